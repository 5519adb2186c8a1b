/* SPDX-License-Identifier: Apache-2.0 */
/* The header policy's pure part: which 206 fragments count as executables
 * for BlockPartialExecutables (the URL's path, never its query, or the
 * Content-Type).  The exclusions themselves are checked end to end by
 * tests/integration/test-icap-evasion.sh. */
#include "icap/icap-policy.h"
#include "t.h"

TEST(executable_by_url_path)
{
    CHECK_EQ(bw_icap_looks_executable("http://a.test/dl/setup.exe", NULL), 1);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/dl/SETUP.MSI?x=1", NULL), 1);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/x.tar.gz/app.apk#frag", NULL), 1);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/movie.mp4", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/movie.mp4?f=x.exe", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/movie.mp4#x.exe", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/exe", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.exe/", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/x.exe.txt", NULL), 0);
    CHECK_EQ(bw_icap_looks_executable(NULL, NULL), 0);
}

TEST(executable_by_content_type)
{
    CHECK_EQ(bw_icap_looks_executable(NULL, "application/x-msdownload"), 1);
    CHECK_EQ(bw_icap_looks_executable(NULL, "Application/X-DosExec; charset=binary"), 1);
    CHECK_EQ(bw_icap_looks_executable(NULL, "application/java-archive"), 1);
    CHECK_EQ(bw_icap_looks_executable(NULL, "application/x-msdownloadable"), 0);
    CHECK_EQ(bw_icap_looks_executable(NULL, "application/octet-stream"), 0);
    CHECK_EQ(bw_icap_looks_executable("http://a.test/v.mp4", "video/mp4"), 0);
}

int main(void) { return t_run(); }
