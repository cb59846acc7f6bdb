/* agentd's entry point and event loop (loop.c). main.c only parses options
 * and calls agentd_main(). */
#pragma once
#include "agentd/daemon.h"

int agentd_main(const struct agentd_opts *opts);
