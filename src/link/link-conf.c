/* SPDX-License-Identifier: Apache-2.0 */
/* The [console] key table (link-conf.h).  Url must be https: the link sends
 * the node's credential with every request, so it never travels in clear. */
#include "link/link-conf.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "bulwark/core.h"

#define OFF(f) offsetof(bw_link_conf_t, f)

static int check(const void *conf, const char *group, bw_err_t *err)
{
    const bw_link_conf_t *c = conf;
    if (c->url[0] && strncasecmp(c->url, "https://", 8))
        return bw_err_set(err, "Url: '%s' is not an https:// URL (the node's credential is "
                          "only sent over TLS)", c->url);
    if (c->url[0] && !c->credential_file[0])
        return bw_err_set(err, "CredentialFile: must be set when Url is");
    return BW_OK;
}

static const bw_conf_key_t keys[] = {
    {.section = "console", .name = "Url", .type = BW_CONF_STRING, .def = "", .max = 2048,
     .offset = OFF(url),
     .doc = "the console's base URL, https://HOST:PORT (empty: this node has no console link; "
            "docs/console-nodes.md)"},
    {.section = "console", .name = "CAFile", .type = BW_CONF_PATH, .def = "", .max = 4096,
     .offset = OFF(ca_file),
     .doc = "PEM file of the CA that signed the console's TLS certificate (empty: the system's "
            "CAs)"},
    {.section = "console", .name = "EnrollToken", .type = BW_CONF_STRING, .def = "", .max = 512,
     .flags = BW_CONF_SECRET, .offset = OFF(enroll_token),
     .doc = "one-time enrolment token from the console; used once, when CredentialFile does not "
            "exist yet (or use `bulwark console enroll`)"},
    {.section = "console", .name = "CredentialFile", .type = BW_CONF_PATH,
     .def = "/var/lib/bulwark/console.cred", .max = 4096, .offset = OFF(credential_file),
     .doc = "where the node's console credential is kept (written at enrolment, mode 0600)"},
    {.section = "console", .name = "Group", .type = BW_CONF_STRING, .def = "", .max = 64,
     .offset = OFF(group),
     .doc = "node group asked for at enrolment (empty: the token's group)"},
    {.section = "console", .name = "PollInterval", .type = BW_CONF_DURATION, .def = "30s",
     .min = 200, .max = 3600000, .offset = OFF(poll_ms),
     .doc = "how often the node sends its heartbeat and asks for tasks and its policy"},
    {.section = "console", .name = "BatchSize", .type = BW_CONF_UINT, .def = "500", .min = 1,
     .max = 1000, .offset = OFF(batch_size),
     .doc = "events per POST to the console (at most 1000, the console's limit)"},
    {.section = "console", .name = "MaxRetryInterval", .type = BW_CONF_DURATION, .def = "5m",
     .min = 1000, .max = 3600000, .offset = OFF(max_backoff_ms),
     .doc = "cap of the exponential back-off (with jitter) between failed sends"},
    {.section = "console", .name = "PolicyFile", .type = BW_CONF_PATH,
     .def = "/var/lib/bulwark/console-policy.conf", .max = 4096, .offset = OFF(policy_file),
     .doc = "the policy last applied from the console, a bulwark.conf fragment loaded over "
            "bulwark.conf (its keys replace the file's)"},
    {.section = "console", .name = "RestoreDirectory", .type = BW_CONF_PATH,
     .def = "/var/lib/bulwark/restored", .max = 4096, .offset = OFF(restore_dir),
     .doc = "where a quarantine.restore task from the console writes the restored object"},
};

const bw_conf_table_t bw_link_conf_table = {
    .name = "console", .struct_size = sizeof(bw_link_conf_t), .keys = keys,
    .nkeys = BW_CONF_NKEYS(keys), .check = check,
};
