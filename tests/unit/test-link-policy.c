/* SPDX-License-Identifier: Apache-2.0 */
/* Console policies: the allow-list of sections, paths refused, and the
 * whole check of bulwark.conf with the policy over it (link-policy-check.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "link/link.h"
#include "t.h"

static bw_err_t err;

static const char *allowed(const char *text)
{
    err.msg[0] = '\0';
    return bw_link_policy_allowed("policy", text, strlen(text), &err) == BW_OK ? "ok" : err.msg;
}

TEST(allowed_sections_pass)
{
    CHECK_STR(allowed("; a comment\n[icapserver.actions]\nInfectedAction = skip\n"
                      "[icapserver.actions:kids]\nInfectedAction = deny\n"
                      "[icapserver.filter]\nMaxReqLength = 10M\n"
                      "[icapserver.engine.options]\nScanArchives = no\n"
                      "[icapserver.groups:kids]\nClientIP = 10.0.0.0/8\n"),
              "ok");
    CHECK_STR(allowed(""), "ok");
}

TEST(privileged_sections_are_refused_with_their_line)
{
    CHECK_STR(allowed("[icapserver.actions]\nInfectedAction = skip\n[icapserver.process]\n"
                      "User = root\n"),
              "policy:3: [icapserver.process]: not allowed in a policy (a policy may set only "
              "[icapserver.actions], [icapserver.filter], [icapserver.engine.options], "
              "[icapserver.protocol] and [icapserver.groups])");
    CHECK_CONTAINS(allowed("[path]\nPidFile = /tmp/x\n"), "policy:1: [path]: not allowed");
    CHECK_CONTAINS(allowed("  [ICAPSERVER.NOTIFY]\n"), "policy:1: [ICAPSERVER.NOTIFY]");
    CHECK_CONTAINS(allowed("[console]\nUrl = https://evil\n"), "policy:1: [console]");
    CHECK_CONTAINS(allowed("[updater.options]\n"), "not allowed");
    CHECK_CONTAINS(allowed("[quarantine]\n"), "not allowed");
    CHECK_CONTAINS(allowed("[clamd]\n"), "not allowed");
    CHECK_CONTAINS(allowed("[icapserver.network:kids]\n"), "policy:1: [icapserver.network]");
}

TEST(check_validates_against_the_schema_over_the_base_file)
{
    char base[] = "/tmp/bw-test-linkpol-XXXXXX";
    int fd = mkstemp(base);
    CHECK(fd >= 0);
    const char *b = "[icapserver.actions]\nInfectedAction = deny\n";
    CHECK_EQ(write(fd, b, strlen(b)), (long long)strlen(b));
    close(fd);
    CHECK_EQ(bw_link_policy_check(base, "[icapserver.actions]\nInfectedAction = skip\n", &err),
             BW_OK);
    CHECK_EQ(bw_link_policy_check(base, "[icapserver.actions]\nInfectedAction = explode\n", &err),
             BW_ERR);
    CHECK_CONTAINS(err.msg, "policy:2: InfectedAction");
    CHECK_EQ(bw_link_policy_check(base, "[icapserver.actions]\nInfectedActon = skip\n", &err),
             BW_ERR);
    CHECK_CONTAINS(err.msg, "policy:2: [icapserver.actions] InfectedActon: unknown key (did you "
                            "mean InfectedAction?)");
    CHECK_EQ(bw_link_policy_check(base, "[daemon]\n", &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "policy:1: [daemon]: not allowed");
    unlink(base);
    CHECK_EQ(bw_link_policy_check(base, "", &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "cannot read");
}

int main(void)
{
    return t_run();
}
