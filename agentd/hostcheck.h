/* agentd --check-host: reads the host's sudoers (and sudoers.d), the PAM
 * stacks of su, sudo, sudo-i, sshd and login (following @include and
 * include), and nsswitch.conf, and names every setting that weakens
 * pam_agent's or nss_agent's enforcement, each with its fix. See
 * agentd(8) and pam_agent(8). */
#pragma once
#include <stdio.h>

struct agent_config;

/* root: prepended to every path ("" for the host; tests pass a fixture
 * tree). cfg: the policy, to compare pam_agent's prefix= and uids= with
 * (NULL: compiled defaults). Findings go to out, one per line:
 * "FILE:LINE: what. Fix: how." Returns the number of findings, or -errno
 * when nothing could be read. */
int agentd_check_host(const char *root, const struct agent_config *cfg, FILE *out);
