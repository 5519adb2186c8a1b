/* SPDX-License-Identifier: Apache-2.0 */
/* Users, passwords and sessions.
 *
 * Passwords: Argon2id (libargon2), memory-hard (19 MiB, 2 passes, 1 lane:
 * OWASP's minimum), stored as the encoded string with its own salt and
 * parameters, so the cost can rise later without a migration.
 * Sessions: a random 256-bit token goes to the browser (cookie) or CLI
 * (bearer); the store keeps its SHA-256 only.  The cookie is HttpOnly (no
 * script reads it), SameSite=Strict (no cross-site request carries it),
 * Secure when the console speaks TLS, Path=/.  Each session has its own
 * random CSRF token, which the UI sends as X-CSRF-Token.
 * Lock-out: LockoutThreshold failures in a row lock the account for
 * LockoutTime (429), checked before the password so a locked account cannot
 * be probed; an unknown user costs the same hash as a known one. */
#include <argon2.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bulwark/core.h"
#include "console/console.h"
#include "core/log.h"

#define PW_T 2
#define PW_M (19 * 1024)
#define PW_P 1
#define PW_MIN 8
#define PW_MAX 1024

int64_t bw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bw_random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(b + got, nbytes - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0)
            abort(); /* no randomness, no tokens: never fall back to guessable ones */
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * nbytes] = 0;
}

void bw_sha256_hex(const char *s, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    out[64] = 0;
}

int bw_ct_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < nb; i++)
        d |= (unsigned char)(b[i] ^ (i < na ? a[i] : 0));
    return d == 0;
}

int bw_password_hash(const char *pw, char *out, size_t outlen, bw_err_t *err)
{
    unsigned char salt[16];
    if (getrandom(salt, sizeof(salt), 0) != sizeof(salt))
        return bw_err_set(err, "getrandom failed"), BW_ERR;
    int rc = argon2id_hash_encoded(PW_T, PW_M, PW_P, pw, strlen(pw), salt, sizeof(salt), 32, out,
                                   outlen);
    if (rc != ARGON2_OK)
        return bw_err_set(err, "argon2id: %s", argon2_error_message(rc)), BW_ERR;
    return BW_OK;
}

int bw_password_verify(const char *encoded, const char *pw)
{
    return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

static int check_password_text(bw_req_t *r, const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < PW_MIN || n > PW_MAX) {
        bw_reply_error(r, 400, "password: %d to %d characters", PW_MIN, PW_MAX);
        return BW_ERR;
    }
    return BW_OK;
}

static int valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* Burns the time of a verification for an unknown user, so timing does not
 * tell which user names exist. */
static void dummy_verify(const char *pw)
{
    static char enc[256];
    static int ready;
    bw_err_t e;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        char tmp[256];
        if (bw_password_hash("not-a-password", tmp, sizeof(tmp), &e) != BW_OK)
            return;
        memcpy(enc, tmp, sizeof(tmp));
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    (void)bw_password_verify(enc, pw);
}

void bw_h_session_post(bw_req_t *r)
{
    bw_console_t *con = r->con;
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *name = json_string_value(json_object_get(b, "username"));
    const char *pw = json_string_value(json_object_get(b, "password"));
    if (!name || !pw || strlen(pw) > PW_MAX) {
        json_decref(b);
        bw_reply_error(r, 400, "body: expected {\"username\":...,\"password\":...}");
        return;
    }
    json_t *u = valid_name(name) ? bw_store_user(con->store, name, &err) : NULL;
    if (!u) {
        json_decref(b);
        if (err.msg[0]) {
            bw_reply_error(r, 500, "store: %s", err.msg);
            return;
        }
        dummy_verify(pw);
        atomic_fetch_add_explicit(&con->logins_failed, 1, memory_order_relaxed);
        bw_reply_error(r, 401, "wrong user name or password");
        return;
    }
    int64_t now = bw_now_us();
    int64_t locked = json_integer_value(json_object_get(u, "locked_until"));
    if (locked > now) {
        atomic_fetch_add_explicit(&con->logins_locked, 1, memory_order_relaxed);
        bw_reply_error(r, 429, "account locked after repeated failures; try again in %lld s",
                       (long long)((locked - now) / 1000000 + 1));
        json_decref(u), json_decref(b);
        return;
    }
    const char *enc = json_string_value(json_object_get(u, "pwhash"));
    if (!enc || !bw_password_verify(enc, pw)) {
        atomic_fetch_add_explicit(&con->logins_failed, 1, memory_order_relaxed);
        int64_t until = now + (int64_t)con->conf->lockout_time_ms * 1000;
        if (bw_store_login_failed(con->store, name, (int)con->conf->lockout_threshold, until,
                                  &err) != BW_OK)
            bw_log(BW_LOG_WARN, "sign-in of %s: recording the failure: %s", name, err.msg);
        bw_log(BW_LOG_WARN, "sign-in of %s failed", name);
        bw_reply_error(r, 401, "wrong user name or password");
        json_decref(u), json_decref(b);
        return;
    }
    bw_store_login_ok(con->store, name, &err);
    char token[65], csrf[65], h[65];
    bw_random_hex(token, 32);
    bw_random_hex(csrf, 32);
    bw_sha256_hex(token, h);
    int64_t ttl = (int64_t)con->conf->session_timeout_ms * 1000;
    if (bw_store_add_session(con->store, h, name, csrf, now + ttl, &err) != BW_OK) {
        bw_reply_error(r, 500, "store: %s", err.msg);
        json_decref(u), json_decref(b);
        return;
    }
    const char *role = json_string_value(json_object_get(u, "role"));
    snprintf(r->cookie, sizeof(r->cookie),
             "bw_session=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", token,
             (long long)(ttl / 1000000), con->tls ? "; Secure" : "");
    atomic_fetch_add_explicit(&con->logins_ok, 1, memory_order_relaxed);
    bw_log(BW_LOG_INFO, "%s signed in", name);
    bw_reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:s}", "user", name, "role", role ? role : "",
                                    "csrf_token", csrf, "token", token));
    json_decref(u), json_decref(b);
}

void bw_h_session_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *s = bw_store_session(r->con->store, r->session_hash, &err);
    const char *csrf = s ? json_string_value(json_object_get(s, "csrf")) : NULL;
    bw_reply_json(r, 200, json_pack("{s:s,s:s,s:s}", "user", r->user, "role", r->role,
                                    "csrf_token", csrf ? csrf : ""));
    json_decref(s);
}

void bw_h_session_delete(bw_req_t *r)
{
    bw_err_t err = {{0}};
    bw_store_delete_session(r->con->store, r->session_hash, &err);
    snprintf(r->cookie, sizeof(r->cookie),
             "bw_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
             r->con->tls ? "; Secure" : "");
    bw_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

void bw_h_users_get(bw_req_t *r)
{
    if (!r->admin) {
        bw_reply_error(r, 403, "users: admin only");
        return;
    }
    bw_err_t err = {{0}};
    json_t *u = bw_store_users(r->con->store, &err);
    if (!u)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, u);
}

void bw_h_users_post(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *role = json_string_value(json_object_get(b, "role"));
    const char *pw = json_string_value(json_object_get(b, "password"));
    char enc[256];
    if (!valid_name(name))
        bw_reply_error(r, 400, "name: 1 to 64 of A-Z a-z 0-9 . _ @ -");
    else if (!role || (strcmp(role, "admin") && strcmp(role, "viewer")))
        bw_reply_error(r, 400, "role: admin or viewer");
    else if (check_password_text(r, pw) != BW_OK)
        ;
    else if (bw_password_hash(pw, enc, sizeof(enc), &err) != BW_OK)
        bw_reply_error(r, 500, "%s", err.msg);
    else if (bw_store_add_user(r->con->store, name, role, enc, &err) != BW_OK)
        bw_reply_error(r, 409, "user %s: %s", name, err.msg);
    else {
        bw_log(BW_LOG_INFO, "%s added user %s (%s)", r->user, name, role);
        bw_reply_json(r, 201, json_pack("{s:s,s:s}", "name", name, "role", role));
    }
    json_decref(b);
}

void bw_h_user_delete(bw_req_t *r)
{
    bw_err_t err = {{0}};
    if (!strcmp(r->param[0], r->user)) {
        bw_reply_error(r, 400, "you cannot delete your own account");
        return;
    }
    json_t *u = bw_store_user(r->con->store, r->param[0], &err);
    if (!u) {
        bw_reply_error(r, 404, "user %s: not found", r->param[0]);
        return;
    }
    json_decref(u);
    if (bw_store_delete_user(r->con->store, r->param[0], &err) != BW_OK)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, json_pack("{s:s}", "deleted", r->param[0]));
}

/* PUT /users/{name}/password: an admin sets anyone's; a user changes their
 * own and must give the current one (a stolen session alone cannot). */
void bw_h_user_password(bw_req_t *r)
{
    bw_err_t err = {{0}};
    int self = !strcmp(r->param[0], r->user);
    if (!self && !r->admin) {
        bw_reply_error(r, 403, "only an admin sets another user's password");
        return;
    }
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *pw = json_string_value(json_object_get(b, "password"));
    const char *cur = json_string_value(json_object_get(b, "current"));
    json_t *u = bw_store_user(r->con->store, r->param[0], &err);
    char enc[256];
    if (!u)
        bw_reply_error(r, 404, "user %s: not found", r->param[0]);
    else if (self && !r->admin &&
             (!cur || !bw_password_verify(json_string_value(json_object_get(u, "pwhash")), cur)))
        bw_reply_error(r, 403, "current: wrong password");
    else if (check_password_text(r, pw) != BW_OK)
        ;
    else if (bw_password_hash(pw, enc, sizeof(enc), &err) != BW_OK ||
             bw_store_set_password(r->con->store, r->param[0], enc, &err) != BW_OK)
        bw_reply_error(r, 500, "%s", err.msg);
    else
        bw_reply_json(r, 200, json_pack("{s:s}", "password_changed", r->param[0]));
    json_decref(u), json_decref(b);
}

int bw_console_first_admin(bw_console_t *con, bw_err_t *err)
{
    if (bw_store_user_count(con->store) > 0)
        return BW_OK;
    const char *env = getenv("BULWARK_CONSOLE_ADMIN_PASSWORD");
    char pw[64], enc[256];
    if (env && *env) {
        if (strlen(env) < PW_MIN || strlen(env) > 63)
            return bw_err_set(err, "BULWARK_CONSOLE_ADMIN_PASSWORD: %d to 63 characters", PW_MIN),
                   BW_ERR;
        strcpy(pw, env);
    } else {
        bw_random_hex(pw, 12);
    }
    if (bw_password_hash(pw, enc, sizeof(enc), err) != BW_OK ||
        bw_store_add_user(con->store, "admin", "admin", enc, err) != BW_OK)
        return BW_ERR;
    if (env && *env)
        fprintf(stderr, "bulwark-console: created user admin with the password of "
                        "BULWARK_CONSOLE_ADMIN_PASSWORD\n");
    else
        fprintf(stderr, "bulwark-console: created user admin; one-time password: %s\n"
                        "bulwark-console: sign in and change it (Users page, or PUT "
                        "/api/v1/users/admin/password)\n", pw);
    return BW_OK;
}
