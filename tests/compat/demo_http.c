/* demo_http.c: the compat test of the HTTP demo server. The test binary is
 * demos/http_server.c itself, built by the runner with its usual flags; the
 * checks are in demo_http.sh, which starts it (preloaded when the runner
 * preloads) on a docroot of its own and talks HTTP/1.x to it. */
#include "../../demos/http_server.c"
