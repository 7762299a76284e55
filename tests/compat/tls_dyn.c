/* tls_dyn.c: a library with a __thread variable, dlopen'ed by tls_vars.c after
 * threads exist (its TLS is dynamic: reached through __tls_get_addr). */
// compat-helper
__thread long dyn_var = 11;
long *dyn_var_addr(void) { return &dyn_var; }
