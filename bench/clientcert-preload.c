/*
 * LD_PRELOAD shim for load generators that cannot send a client certificate (wrk, h2load) or an SNI
 * name (openssl s_time). It wraps OpenSSL's SSL_CTX_new and SSL_new:
 *   BENCH_CLIENT_CERT, BENCH_CLIENT_KEY  PEM files loaded into every SSL_CTX the program creates
 *   BENCH_SNI                            server name set on every SSL the program creates
 * Only the bench uses it (bench/lib/load.ts builds it with cc into a temporary directory).
 * No OpenSSL headers are needed: the few functions are declared here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_method_st SSL_METHOD;

extern int SSL_CTX_use_certificate_chain_file(SSL_CTX *ctx, const char *file);
extern int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type);
extern long SSL_ctrl(SSL *ssl, int cmd, long larg, void *parg);

#define BENCH_SSL_FILETYPE_PEM 1
#define BENCH_SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define BENCH_TLSEXT_NAMETYPE_host_name 0

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
  static SSL_CTX *(*real)(const SSL_METHOD *);
  if (!real) real = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
  SSL_CTX *ctx = real(method);
  const char *cert = getenv("BENCH_CLIENT_CERT");
  const char *key = getenv("BENCH_CLIENT_KEY");
  if (ctx && cert && key) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, BENCH_SSL_FILETYPE_PEM) != 1) abort();
  }
  return ctx;
}

SSL *SSL_new(SSL_CTX *ctx) {
  static SSL *(*real)(SSL_CTX *);
  if (!real) real = (SSL * (*)(SSL_CTX *)) dlsym(RTLD_NEXT, "SSL_new");
  SSL *ssl = real(ctx);
  const char *sni = getenv("BENCH_SNI");
  if (ssl && sni && *sni) SSL_ctrl(ssl, BENCH_SSL_CTRL_SET_TLSEXT_HOSTNAME, BENCH_TLSEXT_NAMETYPE_host_name, (void *)sni);
  return ssl;
}
