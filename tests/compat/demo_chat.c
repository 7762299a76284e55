/* demo_chat.c: the compat test of the chat demo. The test binary is the demo server
 * itself, demos/chat_server.c compiled unchanged with the runner's flags
 * (-O2 -g -pthread -Wall); demo_chat.sh beside it starts it ("demo_chat PORT"),
 * drives a scenario of clients against it and prints what they received, in an
 * order that does not depend on scheduling.
 */
#include "../../demos/chat_server.c"
