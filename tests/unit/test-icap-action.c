/* SPDX-License-Identifier: Apache-2.0 */
/* bw_icap_action_for: a curable object is never passed as its original.
 * Every status x configured action x (Cure, cured bytes) combination. */
#include <string.h>

#include "icap/icap-service.h"
#include "t.h"

static bw_icap_conf_t conf_all(bw_action_t a, bool cure)
{
    bw_icap_conf_t ic;
    memset(&ic, 0, sizeof ic);
    ic.infected_action = ic.suspicious_action = ic.warning_action = ic.protected_action =
        ic.corrupted_action = ic.error_action = ic.cured_action = ic.maxreqlength_action =
            ic.timeout_action = (int)a;
    ic.cure = cure;
    return ic;
}

static const bw_action_t ACTS[] = {BW_ACT_SKIP, BW_ACT_DENY, BW_ACT_CURE, BW_ACT_QUARANTINE};

TEST(cured_with_a_cure_skip_and_cure_return_it_deny_and_quarantine_block)
{
    uint8_t cure[4] = "CURE";
    bw_verdict_t v = {.status = BW_CURED, .cured = cure, .cured_len = 4};
    for (size_t i = 0; i < 4; i++) {
        bw_icap_conf_t ic = conf_all(ACTS[i], true);
        bw_action_t want = ACTS[i] == BW_ACT_SKIP ? BW_ACT_CURE : ACTS[i];
        CHECK_EQ(bw_icap_action_for(&ic, &v), want);
    }
}

TEST(cured_without_a_cure_is_never_skipped)
{
    uint8_t cure[4] = "CURE";
    bw_verdict_t with = {.status = BW_CURED, .cured = cure, .cured_len = 4};
    bw_verdict_t without = {.status = BW_CURED};
    for (size_t i = 0; i < 4; i++) {
        for (int c = 0; c < 2; c++) {
            bw_icap_conf_t ic = conf_all(ACTS[i], c);
            bw_verdict_t *v = c ? &without : &with; /* Cure = no, or no cured bytes */
            bw_action_t a = bw_icap_action_for(&ic, v);
            CHECK(a == BW_ACT_DENY || a == BW_ACT_QUARANTINE);
            CHECK_EQ(a, ACTS[i] == BW_ACT_QUARANTINE ? BW_ACT_QUARANTINE : BW_ACT_DENY);
        }
    }
}

TEST(other_statuses_keep_their_action_and_cure_blocks)
{
    for (int s = BW_CURED + 1; s < BW_STATUS_COUNT; s++) {
        bw_verdict_t v = {.status = (bw_status_t)s};
        for (size_t i = 0; i < 4; i++) {
            bw_icap_conf_t ic = conf_all(ACTS[i], true);
            CHECK_EQ(bw_icap_action_for(&ic, &v), ACTS[i] == BW_ACT_CURE ? BW_ACT_DENY : ACTS[i]);
        }
    }
    bw_icap_conf_t ic = conf_all(BW_ACT_DENY, true);
    bw_verdict_t clean = {.status = BW_CLEAN};
    CHECK_EQ(bw_icap_action_for(&ic, &clean), BW_ACT_SKIP);
}

TEST(a_status_that_outranks_a_curable_finding_does_not_pass_it)
{
    bw_threat_t t[2] = {{BW_CURED, (char *)"EICAR-Test-File-CURE", (char *)""},
                        {BW_TOO_LARGE, (char *)"limits exceeded: MaxReqLength", (char *)""}};
    uint8_t cure[4] = "CURE";
    bw_verdict_t v = {.status = BW_TOO_LARGE, .nthreats = 2, .threats = t};
    bw_icap_conf_t ic = conf_all(BW_ACT_SKIP, true);
    CHECK_EQ(bw_icap_action_for(&ic, &v), BW_ACT_DENY);
    v.cured = cure;
    v.cured_len = 4;
    CHECK_EQ(bw_icap_action_for(&ic, &v), BW_ACT_CURE);
    ic = conf_all(BW_ACT_DENY, true);
    CHECK_EQ(bw_icap_action_for(&ic, &v), BW_ACT_DENY);
}

int main(void)
{
    return t_run();
}
