/* SPDX-License-Identifier: Apache-2.0 */
/* The updater's on-disk side (src/update/update-store.c, update-fs.c,
 * update-crypto.c, the directory source of update-fetch.c), in temporary
 * directories: converting a plain BasesPath, switching and rolling back
 * through the symlink, keeping exactly the current and previous sets, the
 * lock, stale staging, ed25519 keys and signatures, and bounded fetches. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "t.h"
#include "update/update-int.h"

static char root[256];

static void mk_root(void)
{
    snprintf(root, sizeof root, "/tmp/bw-update-unit-XXXXXX");
    if (!mkdtemp(root))
        abort();
}

static char *path(const char *rel)
{
    if (!root[0])
        mk_root();
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(path(rel), "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static char *get(const char *p)
{
    static char buf[4096];
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *link_text(const char *p)
{
    static char buf[512];
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* A staged set directory holding one file. */
static char *stage_with(bw_store_t *s, const char *name, const char *text)
{
    char *stage = NULL;
    bw_err_t err;
    if (bw_store_mktemp(s, "stage", &stage, &err))
        abort();
    char p[600];
    snprintf(p, sizeof p, "%s/%s", stage, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return stage;
}

/* One history, start to end: a package's plain directory, two updates, a
 * reinstall, cleanup, and rollbacks back and forth. */
TEST(a_set_history_convert_update_cleanup_rollback)
{
    mkdir(path("db"), 0755);
    put("db/old.ndb", "old\n");
    bw_store_t s;
    bw_err_t err;
    CHECK_EQ(bw_store_open(&s, path("db/"), &err), BW_OK);
    CHECK_EQ(s.kind, BW_STORE_DIR);
    CHECK_STR(s.name, "db");
    CHECK_EQ(bw_store_lock(&s, &err), BW_OK);
    char *stage = stage_with(&s, "new.ndb", "new\n");
    CHECK_EQ(bw_store_install(&s, stage, 7, &err), BW_OK);
    free(stage);
    CHECK_EQ(s.kind, BW_STORE_LINK);
    CHECK_STR(link_text(path("db")), "db.d/7");
    CHECK_STR(get(path("db/new.ndb")), "new\n");
    CHECK(!exists(path("db/old.ndb")));
    /* the old directory is kept whole as the previous set */
    CHECK_STR(get(path("db.d/initial/old.ndb")), "old\n");
    CHECK_STR(link_text(path("db.d/previous")), "initial");
    CHECK_STR(s.prev_text, "db.d/initial");
    char tmp_link[64];
    snprintf(tmp_link, sizeof tmp_link, ".db.new.%ld", (long)getpid());
    CHECK(!exists(path(tmp_link)));
    bw_store_close(&s);

    /* the next update: the first set becomes the previous one, "initial" goes */
    CHECK_EQ(bw_store_open(&s, path("db"), &err), BW_OK);
    CHECK_EQ(bw_store_lock(&s, &err), BW_OK);
    stage = stage_with(&s, "new.ndb", "eight\n");
    CHECK_EQ(bw_store_install(&s, stage, 8, &err), BW_OK);
    free(stage);
    CHECK_STR(link_text(path("db")), "db.d/8");
    CHECK_STR(link_text(path("db.d/previous")), "7");
    bw_store_cleanup(&s, NULL);
    CHECK(exists(path("db.d/7")) && exists(path("db.d/8")));
    CHECK(!exists(path("db.d/initial")));
    /* a version installed twice (--force) gets a fresh directory name */
    stage = stage_with(&s, "new.ndb", "eight again\n");
    CHECK_EQ(bw_store_install(&s, stage, 8, &err), BW_OK);
    free(stage);
    CHECK_STR(link_text(path("db")), "db.d/8.1");
    CHECK_STR(link_text(path("db.d/previous")), "8");
    bw_store_cleanup(&s, NULL);
    CHECK(!exists(path("db.d/7")));
    CHECK_STR(get(path("db/new.ndb")), "eight again\n");

    /* rollback swaps current and previous, and again */
    CHECK_EQ(bw_store_rollback(&s, &err), BW_OK);
    CHECK_STR(link_text(path("db")), "db.d/8");
    CHECK_STR(link_text(path("db.d/previous")), "8.1");
    CHECK_STR(get(path("db/new.ndb")), "eight\n");
    CHECK_EQ(bw_store_rollback(&s, &err), BW_OK);
    CHECK_STR(link_text(path("db")), "db.d/8.1");
    CHECK_STR(get(path("db/new.ndb")), "eight again\n");
    /* the rolled-back mark */
    CHECK_EQ(bw_store_rolled_back(&s), 0);
    CHECK_EQ(bw_store_set_rolled_back(&s, 8, &err), BW_OK);
    CHECK_EQ(bw_store_rolled_back(&s), 8);
    CHECK_EQ(bw_store_set_rolled_back(&s, 0, &err), BW_OK);
    CHECK_EQ(bw_store_rolled_back(&s), 0);
    bw_store_close(&s);
}

TEST(rollback_needs_a_managed_set_with_a_previous_one)
{
    bw_store_t s;
    bw_err_t err;
    mkdir(path("plain"), 0755);
    CHECK_EQ(bw_store_open(&s, path("plain"), &err), BW_OK);
    CHECK_EQ(bw_store_rollback(&s, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "a plain directory");
    bw_store_close(&s);
    /* a first install into nothing: a link, and no previous set */
    CHECK_EQ(bw_store_open(&s, path("fresh"), &err), BW_OK);
    CHECK_EQ(s.kind, BW_STORE_NONE);
    char *stage = stage_with(&s, "a.ndb", "a\n");
    CHECK_EQ(bw_store_install(&s, stage, 1, &err), BW_OK);
    free(stage);
    CHECK_STR(link_text(path("fresh")), "fresh.d/1");
    CHECK(s.prev_text == NULL);
    CHECK_EQ(bw_store_rollback(&s, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "no previous set");
    bw_store_close(&s);
}

TEST(a_file_as_bases_path_is_refused)
{
    bw_store_t s;
    bw_err_t err;
    put("daily.cvd", "x");
    CHECK_EQ(bw_store_open(&s, path("daily.cvd"), &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "is a file");
    bw_store_close(&s);
    CHECK_EQ(bw_store_open(&s, "/", &err), BW_ERR);
    bw_store_close(&s);
}

TEST(lock_is_exclusive_and_names_its_holder)
{
    bw_store_t a, b;
    bw_err_t err;
    CHECK_EQ(bw_store_open(&a, path("locked"), &err), BW_OK);
    CHECK_EQ(bw_store_open(&b, path("locked"), &err), BW_OK);
    CHECK_EQ(bw_store_lock(&a, &err), BW_OK);
    CHECK_EQ(bw_store_lock(&b, &err), BW_AGAIN);
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
    CHECK_CONTAINS(err.msg, pid);
    bw_store_close(&a);
    CHECK_EQ(bw_store_lock(&b, &err), BW_OK);
    bw_store_close(&b);
}

TEST(stale_staging_is_removed_and_sets_kept)
{
    bw_store_t s;
    bw_err_t err;
    CHECK_EQ(bw_store_open(&s, path("st"), &err), BW_OK);
    char *stage = stage_with(&s, "a.ndb", "a\n");
    CHECK_EQ(bw_store_install(&s, stage, 3, &err), BW_OK);
    free(stage);
    mkdir(path("st.d/.stage.abcdef"), 0755);
    put("st.d/.stage.abcdef/half.cvd", "half");
    mkdir(path("st.d/.cache.abcdef"), 0755);
    CHECK_EQ(symlink("st.d/3", path(".st.new.99999")), 0);
    mkdir(path(".st.new.12345"), 0755); /* a directory there is not ours to remove */
    bw_store_clean_stale(&s, NULL);
    CHECK(!exists(path("st.d/.stage.abcdef")));
    CHECK(!exists(path("st.d/.cache.abcdef")));
    CHECK(!exists(path(".st.new.99999")));
    CHECK(exists(path(".st.new.12345")));
    CHECK(exists(path("st.d/3")));
    CHECK_STR(get(path("st/a.ndb")), "a\n");
    bw_store_close(&s);
}

/* ---- keys and signatures ------------------------------------------------------ */

static void write_key(EVP_PKEY *k, const char *rel, int private)
{
    FILE *f = fopen(path(rel), "w");
    if (private)
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_PUBKEY(f, k);
    fclose(f);
}

TEST(ed25519_sign_and_verify)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    CHECK(k && other && rsa);
    write_key(k, "k.pem", 1);
    write_key(k, "k.pub", 0);
    write_key(other, "other.pub", 0);
    write_key(rsa, "rsa.pub", 0);
    EVP_PKEY *priv = NULL, *pub = NULL, *opub = NULL, *x = NULL;
    bw_err_t err;
    CHECK_EQ(bw_upd_load_privkey(path("k.pem"), &priv, &err), BW_OK);
    CHECK_EQ(bw_upd_load_pubkey(path("k.pub"), &pub, &err), BW_OK);
    CHECK_EQ(bw_upd_load_pubkey(path("other.pub"), &opub, &err), BW_OK);
    const char msg[] = "bulwark-manifest 1\nversion 1\nend 0\n";
    uint8_t sig[64];
    CHECK_EQ(bw_upd_sign(priv, msg, sizeof msg - 1, sig, &err), BW_OK);
    CHECK_EQ(bw_upd_verify(pub, msg, sizeof msg - 1, sig, sizeof sig, &err), BW_OK);
    /* one changed byte of the message, or of the signature, or another key */
    char msg2[sizeof msg];
    memcpy(msg2, msg, sizeof msg);
    msg2[27] = '2';
    CHECK_EQ(bw_upd_verify(pub, msg2, sizeof msg - 1, sig, sizeof sig, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "does not match");
    sig[10] ^= 1;
    CHECK_EQ(bw_upd_verify(pub, msg, sizeof msg - 1, sig, sizeof sig, &err), BW_ERR);
    sig[10] ^= 1;
    CHECK_EQ(bw_upd_verify(opub, msg, sizeof msg - 1, sig, sizeof sig, &err), BW_ERR);
    CHECK_EQ(bw_upd_verify(pub, msg, sizeof msg - 1, sig, 63, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "63 bytes");
    /* keys in the wrong place */
    CHECK_EQ(bw_upd_load_pubkey(path("k.pem"), &x, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "PRIVATE key");
    CHECK_EQ(bw_upd_load_pubkey(path("rsa.pub"), &x, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "not ed25519");
    CHECK_EQ(bw_upd_load_pubkey(path("nonexistent.pub"), &x, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "No such file");
    put("junk.pub", "hello\n");
    CHECK_EQ(bw_upd_load_pubkey(path("junk.pub"), &x, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "not a PEM public key");
    CHECK_EQ(bw_upd_load_privkey(path("k.pub"), &x, &err), BW_ERR);
    CHECK(x == NULL);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(opub);
}

/* ---- the directory source --------------------------------------------------------- */

TEST(directory_source_is_bounded_and_hashed)
{
    mkdir(path("src"), 0755);
    put("src/a.ndb", "0123456789");
    bw_update_conf_t c = {.source = BW_UPDATE_SOURCE_DIR, .source_dir = path("src/")};
    bw_fetch_t f;
    bw_err_t err;
    CHECK_EQ(bw_fetch_init(&f, &c, NULL, NULL, &err), BW_OK);
    bw_buf_t b = {0};
    CHECK_EQ(bw_fetch_mem(&f, "a.ndb", 10, 1, &b, &err), BW_FETCH_OK);
    CHECK(b.len == 10 && !memcmp(b.p, "0123456789", 10));
    CHECK_EQ(bw_fetch_mem(&f, "a.ndb", 9, 1, &b, &err), BW_FETCH_TOOBIG);
    CHECK_EQ(bw_fetch_mem(&f, "missing.ndb", 9, 1, &b, &err), BW_FETCH_NOTFOUND);
    CHECK_CONTAINS(err.msg, "src/missing.ndb");
    int fd = open(path("copy"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint8_t sha[32], want[32];
    uint64_t got = 0;
    CHECK_EQ(bw_fetch_fd(&f, "a.ndb", fd, 10, sha, &got, &err), BW_FETCH_OK);
    CHECK_EQ(got, 10);
    CHECK_EQ(bw_upd_sha256_path(path("src/a.ndb"), want, NULL, &err), BW_OK);
    CHECK(!memcmp(sha, want, 32));
    /* a second fetch into the same file starts it over */
    CHECK_EQ(bw_fetch_fd(&f, "a.ndb", fd, 4, sha, &got, &err), BW_FETCH_TOOBIG);
    CHECK_EQ(got, 0);
    close(fd);
    bw_fetch_close(&f);
    bw_buf_free(&b);
    c.source_dir = (char *)"";
    CHECK_EQ(bw_fetch_init(&f, &c, NULL, NULL, &err), BW_ERR);
}

TEST(atomic_write_and_rmtree)
{
    bw_err_t err;
    CHECK_EQ(bw_upd_write_atomic(root, "w.txt", "abc", 3, 0640, &err), BW_OK);
    CHECK_STR(get(path("w.txt")), "abc");
    struct stat st;
    CHECK(stat(path("w.txt"), &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK_EQ(bw_upd_write_atomic(path("no/such/dir"), "w.txt", "abc", 3, 0644, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "no/such/dir");
    /* rmtree does not follow a symlink out of the tree */
    mkdir(path("tree"), 0755);
    mkdir(path("tree/sub"), 0755);
    put("tree/sub/f", "f");
    put("keep", "keep");
    CHECK_EQ(symlink(path("keep"), path("tree/link")), 0);
    CHECK_EQ(bw_upd_rmtree(path("tree")), 0);
    CHECK(!exists(path("tree")));
    CHECK_STR(get(path("keep")), "keep");
}

int main(void)
{
    int rc = t_run();
    if (root[0] && rc == 0)
        bw_upd_rmtree(root);
    else if (root[0])
        fprintf(stderr, "  left %s for inspection\n", root);
    return rc;
}
