/* tls_lib.c: a -fPIC library with a general-dynamic __thread variable (helper of
 * tls_vars.c, linked at start-up). */
// compat-helper
__thread long lib_var = 7;
long *lib_var_addr(void) { return &lib_var; }
