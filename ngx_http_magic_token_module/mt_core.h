/*
 * Copyright (C) 2026 The ngx_http_magic_token_module authors.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The nginx-free core: JOSE parsing and verification, credential
 * decryption, base64, scope compilation and matching, key loading.
 *
 * Rules for everything behind this header:
 *   - plain C over OpenSSL 3, jansson and PCRE2; no nginx types;
 *   - every input is (pointer, length); nothing relies on NUL termination;
 *   - every function returns an mt_err_t; no global state;
 *   - every error denies: callers treat anything but MT_OK as a refusal.
 */

#ifndef MT_CORE_H
#define MT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>


/* hard bounds; the nginx glue may set lower ones */
#define MT_MAX_TOKEN_LEN        65536
#define MT_MAX_CLAIMS           64
#define MT_MAX_RULES            256
#define MT_MAX_RULE_LEN         1024
#define MT_MAX_KID_LEN          256
#define MT_MAX_KEYS             64
#define MT_MAX_CREDENTIAL_LEN   4096

/*
 * Backtracking steps per entry: MT_PCRE2_MATCH_BUDGET shared by the
 * entries of a list, at most MT_PCRE2_MATCH_LIMIT and at least
 * MT_PCRE2_MATCH_FLOOR each.
 */
#define MT_PCRE2_MATCH_LIMIT    20000
#define MT_PCRE2_MATCH_BUDGET   200000
#define MT_PCRE2_MATCH_FLOOR    1000
#define MT_PCRE2_DEPTH_LIMIT    10000

#define MT_HASH_HEX_LEN         16


typedef enum {
    MT_OK = 0,
    MT_ERR_MISSING,             /* no token */
    MT_ERR_MALFORMED,           /* not a JWS, bad base64 or JSON */
    MT_ERR_TOO_LARGE,           /* a size bound was exceeded */
    MT_ERR_UNSUPPORTED_ALG,     /* alg unknown, none, or forbidden header */
    MT_ERR_UNKNOWN_KEY,         /* no configured key fits kid/alg */
    MT_ERR_BAD_SIGNATURE,
    MT_ERR_EXPIRED,
    MT_ERR_NOT_YET_VALID,
    MT_ERR_INVALID_CLAIMS,      /* exp missing, wrong claim types */
    MT_ERR_DECRYPT,             /* credential could not be decrypted */
    MT_ERR_INVALID_CREDENTIAL,  /* decrypted to control characters */
    MT_ERR_UNKNOWN_SCOPE,       /* token names a scope not configured */
    MT_ERR_SCOPE_DENIED,        /* no scope allows the request */
    MT_ERR_BAD_SCOPE,           /* scope entry or regex does not compile */
    MT_ERR_BAD_KEY,             /* key file unusable */
    MT_ERR_INVALID_AUDIENCE,    /* aud does not name an accepted audience */
    MT_ERR_REQUIREMENT,         /* a magic_token_require value is empty */
    MT_ERR_UNSAFE_PATH,         /* a path an upstream may read otherwise */
    MT_ERR_UNTRUSTED_KEY,       /* credential signed by a key not for it */
    MT_ERR_REVOKED,             /* in a magic_token_zone's revocation list */
    MT_ERR_DPOP_REQUIRED,       /* a bound token without a DPoP proof */
    MT_ERR_INVALID_DPOP_PROOF,  /* a proof not valid for this request */
    MT_ERR_DPOP_REPLAY,         /* a proof's jti seen within the window */
    MT_ERR_NOMEM,
    MT_ERR_INTERNAL
} mt_err_t;

/* short stable name, e.g. "bad_signature"; used in $magic_token_error */
const char *mt_strerror(mt_err_t err);


/* ---- base64 (mt_base64.c) ---------------------------------------- */

/* decoded length upper bound for len input characters */
#define mt_base64_decoded_max(len)  ((((len) + 3) / 4) * 3)
#define mt_base64url_encoded_len(len)  (((len) * 4 + 2) / 3)
#define mt_base64_encoded_len(len)     ((((len) + 2) / 3) * 4)

/*
 * Strict base64url without padding (RFC 7515 section 2): rejects '=',
 * whitespace, characters outside the alphabet, a length of 4n+1 and
 * non-zero trailing bits.  dst must hold mt_base64_decoded_max(len).
 */
mt_err_t mt_base64url_decode(unsigned char *dst, size_t *dst_len,
    const char *src, size_t len);

/* standard base64 with mandatory padding (RFC 4648 section 4), strict */
mt_err_t mt_base64_decode(unsigned char *dst, size_t *dst_len,
    const char *src, size_t len);

/* dst must hold mt_base64url_encoded_len(len) bytes (the standard
 * alphabet with padding: mt_base64_encoded_len(len)); no NUL written */
size_t mt_base64url_encode(char *dst, const unsigned char *src, size_t len);
size_t mt_base64_encode(char *dst, const unsigned char *src, size_t len);


/* ---- JSON (mt_json.c) -------------------------------------------- */

/* parse an object; duplicate keys rejected; bounded member count */
mt_err_t mt_json_parse_object(json_t **out, const char *buf, size_t len,
    size_t max_members);

/* compact serialisation of a claim value into a malloc()ed buffer */
mt_err_t mt_json_claim_string(const json_t *value, char **out,
    size_t *out_len);

/*
 * Cut the top-level member name, whose value is a string, out of the
 * text of a JSON object, in place (*len shrinks): for text that parsed
 * before as an object without duplicate members (attested bytes), to
 * parse it again without a member nobody reads.  -1 when the text is not
 * as simple as that (no such member, the name written with escapes,
 * another type of value, the name twice, anything unexpected): buf is
 * left as it was, to be parsed whole.
 */
int mt_json_cut_string_member(char *buf, size_t *len, const char *name,
    size_t name_len);


/* ---- keys (mt_keys.c) -------------------------------------------- */

typedef enum {
    MT_KTY_RSA = 1,
    MT_KTY_EC,
    MT_KTY_OKP,
    MT_KTY_OCT
} mt_kty_t;

typedef enum {
    MT_ALG_NONE = 0,            /* never verifies */
    MT_ALG_RS256, MT_ALG_RS384, MT_ALG_RS512,
    MT_ALG_PS256, MT_ALG_PS384, MT_ALG_PS512,
    MT_ALG_ES256, MT_ALG_ES384, MT_ALG_ES512,
    MT_ALG_EDDSA,
    MT_ALG_HS256, MT_ALG_HS384, MT_ALG_HS512
} mt_alg_t;

typedef struct mt_key_s     mt_key_t;
typedef struct mt_keyset_s  mt_keyset_t;

mt_keyset_t *mt_keyset_new(void);
void mt_keyset_free(mt_keyset_t *ks);
size_t mt_keyset_count(const mt_keyset_t *ks);

/*
 * Load every key from a PEM buffer: private keys (PKCS#8, PKCS#1,
 * SEC1), SPKI public keys and X.509 certificates.  source names the
 * origin in error messages.  errbuf receives a one-line reason.
 */
mt_err_t mt_keyset_add_pem(mt_keyset_t *ks, const char *pem, size_t len,
    const char *source, char *errbuf, size_t errlen);

/* read a file and add its keys */
mt_err_t mt_keyset_add_file(mt_keyset_t *ks, const char *path,
    char *errbuf, size_t errlen);

/*
 * JSON Web Key or JWK Set (RFC 7517), all or nothing: "use", "alg" and
 * "key_ops" honoured; two keys with the same kid and type refused.
 */
mt_err_t mt_keyset_add_jwks(mt_keyset_t *ks, const char *json, size_t len,
    const char *source, char *errbuf, size_t errlen);

/* raw HMAC secret, used byte for byte; kid may be NULL */
mt_err_t mt_keyset_add_secret(mt_keyset_t *ks, const unsigned char *secret,
    size_t len, const char *kid, size_t kid_len, char *errbuf,
    size_t errlen);

/*
 * The same, pinned to one HS algorithm (alg MT_ALG_NONE: any of them).
 * A key with the kid and type of a key already in ks is refused.
 */
mt_err_t mt_keyset_add_hmac(mt_keyset_t *ks, const unsigned char *secret,
    size_t len, const char *kid, size_t kid_len, mt_alg_t alg, char *errbuf,
    size_t errlen);

/* alg name (as in a JOSE header) to mt_alg_t; MT_ALG_NONE if unknown */
mt_alg_t mt_alg_from_name(const char *name, size_t len);
const char *mt_alg_name(mt_alg_t alg);

/*
 * JWK "key_ops" (RFC 7517 section 4.3).  A key without key_ops allows
 * every operation its type, "use" and "alg" allow.
 */
#define MT_KEY_OP_SIGN          0x01
#define MT_KEY_OP_VERIFY        0x02
#define MT_KEY_OP_ENCRYPT       0x04
#define MT_KEY_OP_DECRYPT       0x08
#define MT_KEY_OP_WRAP_KEY      0x10
#define MT_KEY_OP_UNWRAP_KEY    0x20
#define MT_KEY_OP_DERIVE_KEY    0x40
#define MT_KEY_OP_DERIVE_BITS   0x80

/* does key_ops allow any of ops? */
int mt_key_allows_op(const mt_key_t *key, unsigned ops);

/* is this a signature key for this alg? (key type, curve, alg pin, and
 * key_ops naming "sign" or "verify" if present); see mt_key_allows_op */
int mt_key_fits_alg(const mt_key_t *key, mt_alg_t alg);
int mt_key_has_private(const mt_key_t *key);
mt_kty_t mt_key_type(const mt_key_t *key);
EVP_PKEY *mt_key_pkey(const mt_key_t *key);

/* iterate: i from 0 to count - 1 */
const mt_key_t *mt_keyset_get(const mt_keyset_t *ks, size_t i);
/* does a key of a (its public part, or a secret) appear in b too? */
int mt_keyset_shares_key(const mt_keyset_t *a, const mt_keyset_t *b);
/* kid match; kid == NULL matches keys regardless of their kid */
int mt_key_kid_is(const mt_key_t *key, const char *kid, size_t len);
int mt_key_has_kid(const mt_key_t *key);
/* may this key decrypt (JWE key management)? */
int mt_key_for_encryption(const mt_key_t *key);
/* ... with this JWE "alg" and "enc" (a JWK may pin one)? */
int mt_key_for_jwe_alg(const mt_key_t *key, const char *alg,
    const char *enc);
/*
 * May a token that carries a credential be signed by this key?  By
 * default only the proxy's own keys: private RSA, EC and OKP keys, and
 * public keys whose private half is in the same set.  Not HMAC secrets
 * (often shared with other services) nor other parties' public keys,
 * unless marked with mt_keyset_trust_credentials() (every key from
 * index from on).
 */
int mt_key_signs_credentials(const mt_key_t *key);
void mt_keyset_trust_credentials(mt_keyset_t *ks, size_t from);

/*
 * SHA-256 over everything that decides what a key set verifies and
 * decrypts: every key's type, flags, pins, kid, secret and public key,
 * in order.  Two sets loaded from the same material give the same
 * digest, in any process; a set with any key added, removed or changed
 * gives another.
 */
#define MT_DIGEST_LEN           32

mt_err_t mt_keyset_digest(const mt_keyset_t *ks,
    unsigned char out[MT_DIGEST_LEN]);

/* the raw secret of an "oct" key, NULL for others */
const unsigned char *mt_key_secret(const mt_key_t *key, size_t *len);


/* ---- JWS (mt_jws.c) ---------------------------------------------- */

typedef struct {
    json_t          *header;
    json_t          *claims;
    mt_alg_t         alg;
    const mt_key_t  *key;       /* the key that verified */
} mt_jws_t;

/*
 * Verify a compact JWS with a key of ks (chosen by kid when present,
 * otherwise every key fitting the alg is tried) and parse its claims.
 * Rejects alg none, unknown algs, crit and jwk/jku/x5u/x5c headers.
 * Segments are unpadded base64url, or all padded with the exact '='
 * their lengths need (old google-auth); the signature covers the bytes
 * as sent.
 * Does not check exp/nbf: see mt_claims_check().
 */
mt_err_t mt_jws_verify(mt_jws_t *jws, const mt_keyset_t *ks,
    const char *token, size_t len);

void mt_jws_clear(mt_jws_t *jws);

/*
 * The claims of a compact JWS whose signature is NOT checked: only for
 * bytes the caller compared in full with bytes that passed
 * mt_jws_verify() with the same key set (a shared cache).  header and
 * key are left NULL, alg MT_ALG_NONE.
 */
mt_err_t mt_jws_claims_attested(mt_jws_t *jws, const char *token,
    size_t len);

/*
 * The same without the claim cut (a string claim nobody will read, e.g.
 * the credential's ciphertext: half of a token's JSON to parse), when
 * the text lets mt_json_cut_string_member() cut it; with it otherwise.
 */
mt_err_t mt_jws_claims_attested_cut(mt_jws_t *jws, const char *token,
    size_t len, const char *cut);

/* low level: signature check of signing input with one key */
mt_err_t mt_jws_verify_signature(const mt_key_t *key, mt_alg_t alg,
    const unsigned char *input, size_t input_len,
    const unsigned char *sig, size_t sig_len);

/* sign input (for minting and tests); sig must hold 1024 bytes */
mt_err_t mt_jws_sign(const mt_key_t *key, mt_alg_t alg,
    const unsigned char *input, size_t input_len,
    unsigned char *sig, size_t *sig_len);


/* ---- claims (mt_token.c) ----------------------------------------- */

/*
 * exp is required and must be an integer; nbf and iat, when present,
 * must be integers.  leeway applies to exp, nbf and iat: an iat in the
 * future gives MT_ERR_NOT_YET_VALID, as an nbf does.
 */
mt_err_t mt_claims_check(const json_t *claims, int64_t now, int64_t leeway);

/*
 * aud (a string or an array of strings) must name one of n accepted
 * audiences; n == 0 accepts none.  MT_ERR_INVALID_AUDIENCE otherwise.
 */
mt_err_t mt_claims_check_audience(const json_t *claims,
    const char *const *audiences, const size_t *lens, size_t n);


/* ---- credential (mt_credential.c) -------------------------------- */

/*
 * Decrypt the "token" claim: a compact JWE (mt_jwe_decrypt), or
 * magic-api-proxy's standard base64 of RSA-OAEP (SHA-256,
 * MGF1-SHA-256, no label), tried with every RSA private key of ks.
 * *out is malloc()ed; callers wipe it (OPENSSL_clear_free) when done.
 * Every failure is the same MT_ERR_DECRYPT.  Control characters in the
 * result give MT_ERR_INVALID_CREDENTIAL.
 */
mt_err_t mt_credential_decrypt(const mt_keyset_t *ks, const char *b64,
    size_t len, unsigned char **out, size_t *out_len);

/* the matching encryption, for minting and tests; MT_ERR_TOO_LARGE
 * when the credential does not fit the key (RSA 2048: 190 bytes) */
mt_err_t mt_credential_encrypt(const mt_key_t *key,
    const unsigned char *plain, size_t len, char **out_b64, size_t *out_len);


/* ---- JWE (mt_jwe.c) ---------------------------------------------- */

/*
 * Decrypt a compact JWE (alg RSA-OAEP, RSA-OAEP-256, ECDH-ES,
 * ECDH-ES+A128KW, ECDH-ES+A256KW, A128KW, A256KW, dir; enc A128GCM,
 * A256GCM, A128CBC-HS256, A256CBC-HS512) with a key of ks.  *out is
 * OPENSSL_malloc()ed; wipe it with OPENSSL_clear_free(*out, *out_len).
 * Failures after the header was accepted are all MT_ERR_DECRYPT.
 */
mt_err_t mt_jwe_decrypt(const mt_keyset_t *ks, const char *jwe, size_t len,
    unsigned char **out, size_t *out_len);

/* encrypt to key (its public half); *out is malloc()ed and NUL-ended */
mt_err_t mt_jwe_encrypt(const mt_key_t *key, const char *alg,
    const char *enc, const char *kid, const unsigned char *plain,
    size_t len, char **out, size_t *out_len);


/* ---- JWE primitives (mt_jwe.c), exposed for tests ---- */

/*
 * RFC 3394 AES key wrap with a 16- or 32-byte kek.  Unwrap: in_len a
 * multiple of 8, at least 24, at most 72; out holds in_len - 8 bytes;
 * MT_ERR_DECRYPT on an integrity failure.  Wrap: out holds in_len + 8.
 */
mt_err_t mt_aes_unwrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len);
mt_err_t mt_aes_wrap(const unsigned char *kek, size_t kek_len,
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t *out_len);

/*
 * AES-GCM, 16- or 32-byte key, 12-byte iv, 16-byte tag (read when
 * decrypting, written when encrypting); out holds in_len bytes.
 */
mt_err_t mt_gcm(int decrypt, const unsigned char *key, size_t key_len,
    const unsigned char *iv, const unsigned char *aad, size_t aad_len,
    const unsigned char *in, size_t in_len, unsigned char *tag,
    unsigned char *out);

/* Concat KDF (SHA-256) of RFC 7518 section 4.6.2 */
mt_err_t mt_concat_kdf(const unsigned char *z, size_t z_len,
    const char *alg_id, const unsigned char *apu, size_t apu_len,
    const unsigned char *apv, size_t apv_len, unsigned char *out,
    size_t out_len);

/* ECDH or X25519 shared secret; an all-zero result is MT_ERR_DECRYPT */
mt_err_t mt_ecdh(EVP_PKEY *ours, EVP_PKEY *peer, unsigned char *z,
    size_t *z_len);

/* a JWE "epk" header member on the curve of key, or MT_ERR_DECRYPT */
mt_err_t mt_epk_load(const json_t *epk, const mt_key_t *key,
    EVP_PKEY **out);


/* ---- scopes (mt_scope.c) ----------------------------------------- */

typedef enum {
    MT_MATCH_FULL = 0,          /* whole path, case-sensitive */
    MT_MATCH_PREFIX             /* python re.match(p, path, re.I) */
} mt_match_mode_t;

typedef struct mt_rules_s  mt_rules_t;

mt_rules_t *mt_rules_new(mt_match_mode_t mode);
void mt_rules_free(mt_rules_t *rules);
size_t mt_rules_count(const mt_rules_t *rules);

/*
 * A Python re pattern in PCRE2 syntax (mt_pyre.c): syntax whose meaning
 * is the same in both engines is written out again (utf: for UTF, UCP
 * and CASELESS, the prefix mode; else for bytes, the full mode), any
 * other is refused with MT_ERR_BAD_SCOPE and a message in errbuf.
 * *out is malloc()ed, NUL-terminated.
 */
mt_err_t mt_pyre_translate(const char *pattern, size_t len, int utf,
    char **out, size_t *out_len, char *errbuf, size_t errlen);

/*
 * "METHOD regex", split at the first space; the regex (Python re
 * syntax) is translated by mt_pyre_translate() and compiled
 */
mt_err_t mt_rules_add(mt_rules_t *rules, const char *entry, size_t len,
    char *errbuf, size_t errlen);

/*
 * MT_OK and *matched set to the entry text when some rule allows
 * (method, path); MT_ERR_SCOPE_DENIED when none does, when the path
 * holds a control character, or, in prefix mode, when it is not valid
 * UTF-8.  A rule whose match hits a PCRE2 limit denies.
 */
mt_err_t mt_rules_match(const mt_rules_t *rules, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const char **matched, size_t *matched_len);

/*
 * Reusable match data for mt_rules_match_with(): one per thread of
 * matching (an nginx worker keeps one), never shared between threads.
 */
typedef struct mt_matcher_s  mt_matcher_t;

mt_matcher_t *mt_matcher_new(void);
void mt_matcher_free(mt_matcher_t *m);

/* mt_rules_match() with the match data of m (NULL: one per call) */
mt_err_t mt_rules_match_with(const mt_rules_t *rules, mt_matcher_t *m,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len);

/*
 * PCRE2's JIT for the rules of the list (the same results, faster
 * matches, about 1.5 kB of executable memory per rule): for lists that
 * are matched often.  Returns the number of rules compiled; a rule JIT
 * cannot compile stays with the interpreter.
 */
size_t mt_rules_jit(mt_rules_t *rules);

/*
 * The same, counted in *count: + the rules compiled now, - all of the
 * list's when its last user frees it (a shared list is counted once).
 */
size_t mt_rules_jit_counted(mt_rules_t *rules, size_t *count);


/*
 * Interned rule lists (mt_intern.c): tokens whose "allowed" entries are
 * the same, in the same match mode, share one compiled mt_rules_t.  The
 * table is an object its caller owns (one per nginx worker); it holds
 * only lists some token uses, at most max of them, and never owns one:
 * each user holds a reference (mt_rules_free drops it) and the last one
 * takes the list out of the table.  The entries are compared in full
 * (mode, count, every entry's bytes); the seeded hash only finds.  A
 * list shared this way is never changed: no mt_rules_add() on it.
 */
typedef struct mt_rules_intern_s  mt_rules_intern_t;

/* NULL when out of memory; max >= 1 */
mt_rules_intern_t *mt_rules_intern_new(size_t max);

/* lists still in use leave the table and are freed by their last user */
void mt_rules_intern_free(mt_rules_intern_t *in);

/* lists in the table */
size_t mt_rules_intern_count(const mt_rules_intern_t *in);

/*
 * The compiled rules of entries (a JSON array of strings, or NULL for
 * none) in mode: a reference to the table's list when it has them, else
 * compiled and put in the table (while it holds fewer than max lists).
 * in == NULL compiles a list of the caller's own.  Errors are those of
 * mt_rules_add(); free *out with mt_rules_free().
 */
mt_err_t mt_rules_intern_get(mt_rules_intern_t *in, mt_match_mode_t mode,
    const json_t *entries, mt_rules_t **out);

/* for mt_intern.c: a reference more, the entries, the table's mark */
mt_rules_t *mt_rules_ref(mt_rules_t *rules);
mt_match_mode_t mt_rules_mode(const mt_rules_t *rules);
const char *mt_rules_entry(const mt_rules_t *rules, size_t i, size_t *len);
void mt_rules_set_intern(mt_rules_t *rules, mt_rules_intern_t *in);
void mt_rules_intern_forget(mt_rules_intern_t *in, mt_rules_t *rules);


/* ---- paths (mt_path.c) ------------------------------------------ */

/*
 * MT_ERR_UNSAFE_PATH when a decoded, normalized path still holds what
 * an upstream may read as a separator or a dot segment: "\", %5C,
 * %2F, %uXXXX, bytes 0xC0/0xC1 (overlong UTF-8), or a segment of dots
 * once ";...", "?..." or "#..." is cut and %XX decoded (".;", "..;x",
 * "%2e%2e", "..%3F").  MT_OK otherwise.
 */
mt_err_t mt_path_check(const char *path, size_t len);


/* ---- tokens (mt_token.c) ---------------------------------------- */

/* a scope defined in configuration, compiled for both match modes */
typedef struct {
    const char  *name;
    size_t       name_len;
    mt_rules_t  *rules[2];      /* indexed by mt_match_mode_t */
} mt_named_scope_t;

typedef struct {
    mt_jws_t        jws;
    json_t         *scopes;         /* borrowed from jws.claims, or NULL */
    mt_rules_t     *rules;          /* compiled "allowed" entries */
    unsigned char  *credential;     /* NULL when the token carries none */
    size_t          credential_len;
} mt_token_t;

/*
 * Signature, claims (mt_claims_check), the "scopes" and "allowed"
 * claims (compiled for mode).  The credential is left encrypted until
 * mt_token_decrypt(), so that refused requests never pay for it.
 */
mt_err_t mt_token_verify(mt_token_t *t, const mt_keyset_t *ks,
    const char *token, size_t len, int64_t now, int64_t leeway,
    mt_match_mode_t mode);

/*
 * Named scopes first, then "allowed".  A token naming a scope that is
 * not configured gets MT_ERR_UNKNOWN_SCOPE.
 */
mt_err_t mt_token_authorize(const mt_token_t *t,
    const mt_named_scope_t *named, size_t n_named, mt_match_mode_t mode,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len);

/* mt_token_authorize() with the match data of m (NULL: one per match) */
mt_err_t mt_token_authorize_with(const mt_token_t *t, mt_matcher_t *m,
    const mt_named_scope_t *named, size_t n_named, mt_match_mode_t mode,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len);

/*
 * mt_token_verify() without the signature check and the check of the
 * signing key's trust (see mt_jws_claims_attested: bytes that passed
 * both before, with the same key set): the claims, the "scopes" and
 * "allowed" claims; the credential is not decrypted.
 */
mt_err_t mt_token_restore(mt_token_t *t, const char *token, size_t len,
    int64_t now, int64_t leeway, mt_match_mode_t mode);

/*
 * The same two, the "allowed" rules taken from (or put in) the intern
 * table in when it is not NULL: a token whose rules are there already
 * compiles nothing.  mt_token_restore_interned() is for a cache hit whose
 * credential comes from the cache: its claims are without "token" (the
 * credential's ciphertext, about half of the JSON to parse; see
 * mt_jws_claims_attested_cut), and the credential is never decrypted.
 */
mt_err_t mt_token_verify_interned(mt_token_t *t, const mt_keyset_t *ks,
    const char *token, size_t len, int64_t now, int64_t leeway,
    mt_match_mode_t mode, mt_rules_intern_t *in);
mt_err_t mt_token_restore_interned(mt_token_t *t, const char *token,
    size_t len, int64_t now, int64_t leeway, mt_match_mode_t mode,
    mt_rules_intern_t *in);

/* decrypt the "token" claim, if any, into t->credential */
mt_err_t mt_token_decrypt(mt_token_t *t, const mt_keyset_t *ks);

/* frees everything and wipes the credential */
void mt_token_clear(mt_token_t *t);



/* ---- MCP scopes (mt_mcp.c, docs/mcp.md) ------------------------- */

#define MT_MCP_MAX_BODY         (1024 * 1024)
#define MT_MCP_MAX_DEPTH        32
#define MT_MCP_MAX_BATCH        64
#define MT_MCP_MAX_ID_LEN       128

/* JSON-RPC error codes of the refusals */
#define MT_MCP_PARSE_ERROR      -32700
#define MT_MCP_INVALID_REQUEST  -32600
#define MT_MCP_INVALID_PARAMS   -32602
#define MT_MCP_FORBIDDEN        -32003

typedef enum {
    MT_MCP_TOOL = 0,
    MT_MCP_RESOURCE,
    MT_MCP_PROMPT
} mt_mcp_kind_t;

typedef struct {
    int          code;              /* JSON-RPC error code */
    const char  *message;           /* static text, no request bytes */
    char         id[MT_MCP_MAX_ID_LEN + 1];    /* JSON text, "null" */
    size_t       id_len;
} mt_mcp_verdict_t;

/*
 * The "mcp" claim, {"tools": [...], "resources": [...], "prompts":
 * [...]} of patterns (Python re, full match, case-sensitive), into
 * rules (full mode) whose methods are "tool", "resource", "prompt".
 * *out is NULL without the claim; MT_ERR_INVALID_CLAIMS when it is
 * malformed, has another member or a pattern that does not compile.
 */
mt_err_t mt_mcp_claim(const json_t *claims, mt_rules_t **out);

/* a configured entry, "tool regex", "resource regex" or "prompt regex" */
mt_err_t mt_mcp_rules_add(mt_rules_t *rules, const char *entry,
    size_t len, char *errbuf, size_t errlen);

/*
 * A Streamable HTTP POST body (one JSON-RPC message or a batch) against
 * the rules (any of n may allow; NULL entries are skipped).  MT_OK when
 * every message is allowed; MT_ERR_MALFORMED, MT_ERR_TOO_LARGE or
 * MT_ERR_SCOPE_DENIED with v set for the error response; MT_ERR_NOMEM.
 */
mt_err_t mt_mcp_check(const mt_rules_t *const *rules, size_t n,
    const char *body, size_t len, mt_mcp_verdict_t *v);

/* {"jsonrpc":"2.0","id":...,"error":{...}}; 0 when size is too small */
size_t mt_mcp_error_body(const mt_mcp_verdict_t *v, char *buf,
    size_t size);


/* ---- grants (mt_grant.c) ----------------------------------------- */

/*
 * A grant rule: a response to a trigger request ("METHOD regex", Python
 * re syntax, matched against the whole path, case-sensitive) allows
 * its token one more exact request, "METHOD /path", from a template in
 * which $1 .. $9 are the trigger's captures and $json the value at a
 * dotted path ("domain_record.id", "items.0.id") of the JSON response.
 * Captures and values are [A-Za-z0-9._-]{1,64}, not only dots: a
 * response or a request can never bring path or regex syntax into a
 * grant.
 */
#define MT_GRANT_MAX_VALUE      64
#define MT_GRANT_MAX_LEN        MT_MAX_RULE_LEN
#define MT_GRANT_MAX_DEPTH      8
#define MT_GRANT_MAX_CAPTURES   9

typedef struct mt_grant_rule_s  mt_grant_rule_t;

typedef struct {
    size_t      n;              /* captures set: 1 .. n */
    size_t      len[MT_GRANT_MAX_CAPTURES + 1];
    char        val[MT_GRANT_MAX_CAPTURES + 1][MT_GRANT_MAX_VALUE + 1];
} mt_grant_match_t;

/* json_path may be NULL (len 0): then the template must not use $json */
mt_err_t mt_grant_rule_new(mt_grant_rule_t **out, const char *trigger,
    size_t trigger_len, const char *tmpl, size_t tmpl_len,
    const char *json_path, size_t json_path_len, char *errbuf,
    size_t errlen);
void mt_grant_rule_free(mt_grant_rule_t *rule);

/* does the rule read the response body ($json)? */
int mt_grant_needs_body(const mt_grant_rule_t *rule);

/*
 * MT_OK and the captures in m when (method, path) is a trigger;
 * MT_ERR_SCOPE_DENIED when it is not, or when a capture is not a safe
 * value.
 */
mt_err_t mt_grant_trigger(const mt_grant_rule_t *rule, const char *method,
    size_t method_len, const char *path, size_t path_len,
    mt_grant_match_t *m);

/*
 * The granted "METHOD /path" into out (outsize bytes, NUL-terminated).
 * body: the whole response body when the rule needs it.  MT_ERR_MALFORMED
 * when the body is not JSON or the value is missing, not a string or
 * integer, or not a safe value; MT_ERR_TOO_LARGE when out is too small.
 */
mt_err_t mt_grant_expand(const mt_grant_rule_t *rule,
    const mt_grant_match_t *m, const char *body, size_t body_len,
    char *out, size_t outsize, size_t *out_len);

/*
 * The value at a dotted path in a JSON document (an object or array at
 * the top; duplicate member names refused; a number segment indexes an
 * array) as text: a string as it is, an integer in decimal; then it
 * must be a safe value.
 */
mt_err_t mt_grant_json_value(const char *json, size_t len,
    const char *path, size_t path_len, char *out, size_t outsize,
    size_t *out_len);

/* [A-Za-z0-9._-]{1,64}, not only dots */
int mt_grant_safe_value(const char *v, size_t len);


/* ---- minting (mt_mint.c) ---------------------------------------- */

typedef struct {
    int64_t       default_ttl;      /* seconds, when the request has none */
    int64_t       max_ttl;          /* cap; 0: none */
    /* is a scope name configured? */
    int         (*scope_known)(void *data, const char *name, size_t len);
    void         *scope_data;
} mt_mint_policy_t;

typedef struct {
    const mt_key_t  *sign_key;
    mt_alg_t         alg;
    const char      *kid;           /* header kid, or NULL */
    const mt_key_t  *enc_key;       /* the credential is encrypted to it */
    const char      *jwe_alg;       /* NULL: magic-api-proxy base64 OAEP */
    const char      *jwe_enc;
    const char      *enc_kid;
} mt_mint_opts_t;

/*
 * Validate a minting request, {"token": credential, "allowed": [...]}
 * or {"token": ..., "scopes": [...]}, with optional "exp" or "ttl",
 * "aud", "sub" and "jti", into claims (iat, exp, allowed or scopes,
 * aud, sub, jti: random when absent).  *cred points into req.  errbuf
 * gets a message fit for a 400 response.
 */
mt_err_t mt_mint_claims(const json_t *req, const mt_mint_policy_t *policy,
    int64_t now, json_t **claims, const char **cred, size_t *cred_len,
    char *errbuf, size_t errlen);

/*
 * Refresh tokens carry their grant under this claim instead of
 * "allowed"/"scopes", so that they never pass as access tokens
 * (mt_token_verify refuses any token that has it).
 */
#define MT_REFRESH_CLAIM  "mt_refresh"

/* refresh claims for the access claims of a mint: lifetime ttl */
mt_err_t mt_mint_refresh_claims(const json_t *claims, int64_t now,
    int64_t ttl, json_t **out);

/*
 * Access claims from verified refresh claims and a request that may
 * narrow the grant ("allowed" or "scopes": a subset of the entries of
 * the refresh token, compared as strings).  The encrypted credential
 * is carried over as it is.  exp: at most max_ttl, never past the
 * refresh token's.
 */
mt_err_t mt_mint_from_refresh(const json_t *refresh, const json_t *req,
    const mt_mint_policy_t *policy, int64_t now, json_t **out,
    char *errbuf, size_t errlen);

/* add the encrypted credential (if cred) to claims and sign: *out is
 * malloc()ed and NUL-terminated */
mt_err_t mt_token_mint(const mt_mint_opts_t *opts, json_t *claims,
    const unsigned char *cred, size_t cred_len, char **out,
    size_t *out_len);


/* ---- revocations (mt_revoke.c) ------------------------------------ */

/*
 * A revocation list: records of one of four kinds, each kept until its
 * "until" time (the exp of the last token it refuses).  A file holds
 * MT_REVOKE_HEADER, then one JSON object per line, each ended by "\n":
 *
 *   {"jti":"...","until":T}                 the token whose jti is ...
 *   {"id":"...","until":T}                  the token whose id (16 hex
 *                                           digits) or jti is ... (as
 *                                           $magic_token_id shows it)
 *   {"sub":"...","before":B,"until":T}      tokens of sub issued before B
 *   {"aud":"...","before":B,"until":T}      tokens for aud issued before B
 *   {"jti":"...","removed":true}            un-revokes (any kind)
 *
 * Records are applied in order; adding one that exists keeps the later
 * before and until.  Anything else in a file is an error, reported with
 * its line: a file never loads partly.
 */
#define MT_REVOKE_HEADER        "magic-token-revocations 1\n"
#define MT_REVOKE_MAX_VALUE     256         /* bytes of a value */
#define MT_REVOKE_MAX_ID        128         /* bytes of an id */
#define MT_REVOKE_MAX_LINE      2048        /* a record and its "\n" */
#define MT_REVOKE_MAX_RECORDS   1000000     /* distinct ones in a list */
#define MT_REVOKE_MAX_FILE      (64 * 1024 * 1024)

typedef enum {
    MT_REVOKE_JTI = 0,
    MT_REVOKE_ID,
    MT_REVOKE_SUB,
    MT_REVOKE_AUD,
    MT_REVOKE_KINDS
} mt_revoke_kind_t;

typedef struct {
    mt_revoke_kind_t  kind;
    int               removed;
    int64_t           until;
    int64_t           before;       /* SUB and AUD: the iat cut-off */
    size_t            len;
    char              value[MT_REVOKE_MAX_VALUE];
} mt_revoke_rec_t;

/* "jti", "id", "sub", "aud" */
const char *mt_revoke_kind_name(mt_revoke_kind_t kind);

/* what mt_revoke_parse() reads */
#define MT_REVOKE_LINE      0       /* a file line */
#define MT_REVOKE_ADD       1       /* a request to revoke: "before"
                                       defaults to now + 1 (tokens issued
                                       until now), no "removed" */
#define MT_REVOKE_REMOVE    2       /* a request to un-revoke: the kind
                                       and value only */

/*
 * One record (a JSON object) into rec.  MT_ERR_MALFORMED,
 * MT_ERR_INVALID_CLAIMS or MT_ERR_TOO_LARGE with a message in errbuf.
 */
mt_err_t mt_revoke_parse(mt_revoke_rec_t *rec, const char *buf, size_t len,
    int what, int64_t now, char *errbuf, size_t errlen);

/* rec as a file line, with its "\n", into buf (MT_REVOKE_MAX_LINE) */
mt_err_t mt_revoke_format(const mt_revoke_rec_t *rec, char *buf,
    size_t size, size_t *len);

/*
 * Is a token with these claims caught by a SUB or AUD cut-off: issued
 * before "before", or without an integer "iat" (it cannot show it was
 * issued after)?
 */
int mt_revoke_issued_before(const json_t *claims, int64_t before);

typedef struct mt_revoke_list_s  mt_revoke_list_t;

mt_revoke_list_t *mt_revoke_list_new(void);
void mt_revoke_list_free(mt_revoke_list_t *list);
/* live records (added, not removed) */
size_t mt_revoke_list_count(const mt_revoke_list_t *list);

/* iterate over live records: *cursor from 0; 0 at the end */
int mt_revoke_list_next(const mt_revoke_list_t *list, size_t *cursor,
    mt_revoke_rec_t *rec);

/* 1 and the live record of that kind and value in *rec, else 0 */
int mt_revoke_list_find(const mt_revoke_list_t *list,
    mt_revoke_kind_t kind, const char *value, size_t len,
    mt_revoke_rec_t *rec);

/* add or remove (rec->removed); *changed: did the list change */
mt_err_t mt_revoke_list_apply(mt_revoke_list_t *list,
    const mt_revoke_rec_t *rec, int *changed);

/*
 * A file's contents, all or nothing: the header, then records; records
 * whose until is not after now are dropped.  On error *line is the
 * line at fault (1 is the header) and errbuf says why.
 */
mt_err_t mt_revoke_list_load(mt_revoke_list_t *list, const char *buf,
    size_t len, int64_t now, size_t *line, char *errbuf, size_t errlen);

/*
 * Files.  Every writer holds a POSIX write lock (fcntl) on the file:
 * the appenders (mt_revoke_file_open) and the rewriters
 * (mt_revoke_file_compact, which writes path.tmp and renames it), so
 * that an append never goes to a file about to be replaced.
 */

/* read and load path under a read lock; MT_ERR_MISSING: no such file */
mt_err_t mt_revoke_file_read(mt_revoke_list_t *list, const char *path,
    int64_t now, size_t *line, char *errbuf, size_t errlen);

/* open path to append, locked, the file the path names now */
mt_err_t mt_revoke_file_open(const char *path, int *fd, char *errbuf,
    size_t errlen);

/* one whole line, or nothing (a failed write is cut off again) */
mt_err_t mt_revoke_file_append(int fd, const char *line, size_t len,
    char *errbuf, size_t errlen);

/* fdatasync (when sync), unlock, close; MT_ERR_INTERNAL when the
 * sync failed */
mt_err_t mt_revoke_file_close(int fd, int sync, char *errbuf,
    size_t errlen);

/* a new file with the header only; MT_ERR_INVALID_CLAIMS if it exists */
mt_err_t mt_revoke_file_create(const char *path, char *errbuf,
    size_t errlen);

/*
 * Read path, drop expired and removed records, and write the others to
 * path.tmp (the file's owner and mode), fsync, rename over path: under
 * the lock, so that no append is lost.  *line as mt_revoke_list_load().
 */
mt_err_t mt_revoke_file_compact(const char *path, int64_t now,
    size_t *kept, size_t *line, char *errbuf, size_t errlen);


/* ---- chains of attenuated tokens (mt_chain.c) -------------------- */

/*
 * ROOT~LINK~...~LINK (docs/attenuation.md): the root is a magic token
 * whose "cnf" names the key of the first link; each link is a JWS of
 * type MT_CHAIN_LINK_TYP signed by the key the element before it names,
 * and adds restrictions.  Every element must allow the request.
 */
#define MT_CHAIN_SEP            '~'
#define MT_CHAIN_MAX_LINKS      8
#define MT_CHAIN_MAX_LINK_LEN   8192
#define MT_CHAIN_MAX_METHODS    32
#define MT_CHAIN_MAX_METHOD_LEN 32
#define MT_CHAIN_MAX_AUD        32
#define MT_CHAIN_LINK_TYP       "mt-link+jwt"
#define MT_CHAIN_PREV_LEN       43      /* base64url of a SHA-256 */

typedef struct {
    mt_jws_t      jws;
    mt_keyset_t  *key;          /* the previous element's cnf.jwk */
    json_t       *scopes;       /* borrowed from jws.claims, or NULL */
    json_t       *methods;      /* borrowed, or NULL */
    json_t       *aud;          /* borrowed, or NULL */
    mt_rules_t   *rules;        /* "allowed"; NULL: no path restriction */
} mt_link_t;

typedef struct {
    mt_token_t    root;
    size_t        n_links;
    mt_link_t     links[MT_CHAIN_MAX_LINKS];
    int64_t       exp;          /* the earliest exp of all elements */
    size_t        borrowed;     /* elements (root first) owned elsewhere */
} mt_chain_t;

/* does the token hold a MT_CHAIN_SEP, i.e. is it a chain? */
int mt_chain_is_chain(const char *token, size_t len);

/*
 * Verify a chain: the root with mt_token_verify() under ks, then every
 * link with the key the element before it names.  A token without a
 * separator is verified as a single token, and refused when its "cnf"
 * names a key (an attenuable root is not a usable token alone).
 */
mt_err_t mt_chain_verify(mt_chain_t *c, const mt_keyset_t *ks,
    const char *token, size_t len, int64_t now, int64_t leeway,
    mt_match_mode_t mode);

/*
 * Verify the links of token after its first "from" elements, which c
 * holds verified (a cached prefix: its root, links[0 .. from - 2],
 * n_links == from - 1, exp the earliest of theirs; c->borrowed says
 * which of them c does not own).  key: the key element from - 1 names
 * in "cnf", imported before, borrowed; NULL: imported from its claims.
 * Then, as mt_chain_verify(): the last element names no key, every
 * element's max_further_links holds.  On failure, the links it added
 * are cleared and c is as it was.
 */
mt_err_t mt_chain_verify_from(mt_chain_t *c, size_t from,
    const mt_keyset_t *key, const char *token, size_t len, int64_t now,
    int64_t leeway, mt_match_mode_t mode);

/* frees a link's state (a cached element's), not l itself */
void mt_chain_link_clear(mt_link_t *l);

/* the "aud" of every link must name one of n accepted audiences (n == 0
 * accepts none); the root's is the caller's (mt_claims_check_audience) */
mt_err_t mt_chain_check_audience(const mt_chain_t *c,
    const char *const *audiences, const size_t *lens, size_t n);

/*
 * The root with mt_token_authorize() (*matched names its entry), then
 * every link's "methods" and its "scopes"/"allowed".
 */
mt_err_t mt_chain_authorize(const mt_chain_t *c,
    const mt_named_scope_t *named, size_t n_named, mt_match_mode_t mode,
    const char *method, size_t method_len, const char *path,
    size_t path_len, const char **matched, size_t *matched_len);

/* the links alone (the root's check is the caller's) */
mt_err_t mt_chain_authorize_links(const mt_chain_t *c,
    const mt_named_scope_t *named, size_t n_named, mt_match_mode_t mode,
    const char *method, size_t method_len, const char *path,
    size_t path_len);

/* is cnf a {"jwk": public key} a link may be verified with?  MT_OK,
 * MT_ERR_INVALID_CLAIMS (shape) or MT_ERR_BAD_KEY */
mt_err_t mt_chain_cnf_check(const json_t *cnf);

/* does a verified token's "cnf" name a key: an attenuable root, which
 * is not a token alone (mt_chain_verify refuses it) */
int mt_token_is_open(const mt_token_t *t);

void mt_chain_clear(mt_chain_t *c);

/*
 * Append a link to chain (a root or a chain, not verified: the holder
 * has no proxy key): claims (restrictions, and "cnf" for an open link)
 * get "prev", the link is signed with key and alg.  *out is malloc()ed,
 * NUL-terminated.  MT_ERR_TOO_LARGE past MT_CHAIN_MAX_LINKS or a bound.
 */
mt_err_t mt_chain_attenuate(const char *chain, size_t len,
    const mt_key_t *key, mt_alg_t alg, json_t *claims, char **out,
    size_t *out_len);

/* base64url(SHA-256(element)): the "prev" of the link after it;
 * out gets MT_CHAIN_PREV_LEN characters and a NUL */
void mt_chain_prev(char out[MT_CHAIN_PREV_LEN + 1], const char *element,
    size_t len);

/* the public JWK of key (RSA, EC, OKP), for a "cnf" claim */
mt_err_t mt_key_public_jwk(const mt_key_t *key, json_t **out);


/* ---- response scrubbing (mt_scrub.c) ----------------------------- */

/*
 * The byte sequences an upstream could send back for a credential: the
 * raw bytes; its percent-encoded forms (RFC 3986 upper and lower hex,
 * form encoding with '+' for space, JavaScript's encodeURIComponent);
 * and, in both base64 alphabets, the characters that depend on the
 * credential alone at each of the 3 alignments (inside a longer blob
 * such as Basic "user:cred", padded or not).  Base64 cores shorter than
 * MT_SCRUB_MIN_B64 are left out (they would hit innocent text).
 *
 * mt_scrub_feed() is a streaming matcher: every byte of every match is
 * replaced by MT_SCRUB_MARK (lengths never change); it keeps back at
 * most mt_scrub_max_pattern() - 1 bytes (with their marks) for the next
 * call, so a match split across calls is still found.
 */
#define MT_SCRUB_MAX_CRED       8192
#define MT_SCRUB_MIN_B64        4
#define MT_SCRUB_MARK           '*'

typedef struct mt_scrub_s  mt_scrub_t;

/* MT_ERR_TOO_LARGE (empty or over MT_SCRUB_MAX_CRED), MT_ERR_NOMEM */
mt_err_t mt_scrub_new(mt_scrub_t **out, const unsigned char *cred,
    size_t len);
/* wipes the patterns and frees; NULL is fine */
void mt_scrub_free(mt_scrub_t *s);
size_t mt_scrub_max_pattern(const mt_scrub_t *s);
size_t mt_scrub_patterns(const mt_scrub_t *s);
/* the n-th pattern (tests) */
const unsigned char *mt_scrub_pattern(const mt_scrub_t *s, size_t n,
    size_t *len);

/*
 * Scan len bytes after what was kept back; out (room for
 * mt_scrub_out_max(s, len) bytes) gets *out_len bytes ready to send.
 * last: nothing follows, everything kept back is written too.  *hits
 * (may be NULL) is increased by the matches found.  MT_ERR_NOMEM.
 */
mt_err_t mt_scrub_feed(mt_scrub_t *s, const unsigned char *in, size_t len,
    int last, unsigned char *out, size_t *out_len, size_t *hits);
size_t mt_scrub_out_max(const mt_scrub_t *s, size_t len);
/* bytes kept back now */
size_t mt_scrub_pending(const mt_scrub_t *s);

/* a whole value (a header) in place: the number of matches */
size_t mt_scrub_buffer(const mt_scrub_t *s, unsigned char *buf, size_t len);
/* the same, without changing it */
size_t mt_scrub_count(const mt_scrub_t *s, const unsigned char *buf,
    size_t len);

/* ---- DPoP, RFC 9449 (mt_dpop.c) --------------------------------- */

/*
 * A token whose "cnf" is {"jkt": thumbprint} (RFC 7638, base64url of a
 * SHA-256: MT_DPOP_JKT_LEN characters) is bound to that key: it is used
 * only with a DPoP proof signed by it.  In a chain, the last element may
 * be bound (docs/attenuation.md).
 */
#define MT_DPOP_TYP             "dpop+jwt"
#define MT_DPOP_JKT_LEN         43
#define MT_DPOP_MAX_PROOF       8192
#define MT_DPOP_MAX_JTI         256
#define MT_DPOP_MAX_HTU         4096

typedef struct {
    const char      *method;
    size_t           method_len;
    const char      *htu;       /* the request's scheme://host/path */
    size_t           htu_len;
    const char      *token;     /* the access token presented, or NULL */
    size_t           token_len;
    const char      *jkt;       /* the token's cnf.jkt, or NULL: any key */
    size_t           jkt_len;
    int64_t          now;
    int64_t          window;    /* seconds an iat stays fresh */
    int64_t          leeway;
} mt_dpop_req_t;

typedef struct {
    char             jkt[MT_DPOP_JKT_LEN + 1];  /* the proof key's */
    unsigned char    replay[32];    /* SHA-256 of jkt and jti */
    int64_t          iat;
    const char      *jti;       /* internal */
    size_t           jti_len;
} mt_dpop_t;

/*
 * Verify a proof (a compact JWS: typ MT_DPOP_TYP, an asymmetric alg, a
 * public "jwk" header) for the request: htm, htu (mt_dpop_htu_normalize
 * of both), iat within [now - window - leeway, now + leeway], "ath" when
 * a token is presented, the key's thumbprint when jkt is set (constant
 * time).  MT_ERR_DPOP_REQUIRED when len is 0, MT_ERR_INVALID_DPOP_PROOF
 * for any other refusal.  The replay check (d->replay) is the caller's.
 */
mt_err_t mt_dpop_verify(mt_dpop_t *d, const char *proof, size_t len,
    const mt_dpop_req_t *req);

/* RFC 7638 thumbprint (SHA-256) of an RSA, EC or OKP JWK, base64url */
mt_err_t mt_jwk_thumbprint(const json_t *jwk, char out[MT_DPOP_JKT_LEN + 1]);

/*
 * An http(s) URL as RFC 9449 section 4.3 compares it: the query and
 * fragment dropped, scheme and host in lower case, the default port
 * left out, an empty path "/", percent-encodings in upper case and
 * unreserved characters decoded (RFC 3986 6.2.2, 6.2.3).  No userinfo.
 * out holds len + 1 bytes; not NUL-terminated.
 */
mt_err_t mt_dpop_htu_normalize(const char *in, size_t len, char *out,
    size_t size, size_t *out_len);

/* base64url(SHA-256(token)): a proof's "ath" */
void mt_dpop_ath(char out[MT_DPOP_JKT_LEN + 1], const char *token,
    size_t len);

/*
 * The "jkt" a verified element's "cnf" binds it to (*jkt NULL: none, or
 * an open element's "jwk").  MT_ERR_INVALID_CLAIMS when cnf is anything
 * but {"jwk": ...} or {"jkt": 43 characters} alone.
 */
mt_err_t mt_cnf_jkt(const json_t *claims, const char **jkt);


/* ---- misc -------------------------------------------------------- */

/* first MT_HASH_HEX_LEN hex digits of SHA-256(data); out gets a NUL */
void mt_hash_hex(char out[MT_HASH_HEX_LEN + 1], const void *data,
    size_t len);

#endif /* MT_CORE_H */
