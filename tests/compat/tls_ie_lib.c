/* tls_ie_lib.c: a library whose __thread variables use the initial-exec model,
 * dlopen'ed by tls_identity.c after threads exist: glibc places it in the
 * static TLS block and initialises it in every existing thread. */
// compat-helper
static __thread long ie_var __attribute__((tls_model("initial-exec"))) = 42;
static __thread char ie_buf[40] __attribute__((tls_model("initial-exec"))) = "initial";
long *ie_var_addr(void) { return &ie_var; }
char *ie_buf_addr(void) { return ie_buf; }
