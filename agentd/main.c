/* agentd: entry point. Parses options, hardens the process, hands over to
 * agentd_main() (agentd/loop.c). Never daemonizes: run it under systemd
 * or any supervisor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentd/config.h"
#include "agentd/hostcheck.h"
#include "agentd/loop.h"

#ifndef AGENT_SYSCONFDIR
#define AGENT_SYSCONFDIR "/etc/agentd"
#endif
#ifndef AGENT_STATEDIR
#define AGENT_STATEDIR "/var/lib/agentd"
#endif
#ifndef AGENT_RUNDIR
#define AGENT_RUNDIR "/run/agentd"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: agentd [OPTIONS]\n"
		"Create and retire task-scoped Unix identities for AI agents.\n\n"
		"  -c, --config FILE      policy file (default %s/agentd.conf)\n"
		"      --check-config     validate the policy file and exit\n"
		"      --check-host       name host settings that weaken enforcement and exit\n"
		"      --root DIR         with --check-host: read the host files under DIR\n"
		"      --init-state       create the state database although the state\n"
		"                         directory was used before (begins with no state)\n"
		"  -f, --foreground       also print audit records on stderr\n"
		"      --state-dir DIR    durable state (default %s)\n"
		"      --runtime-dir DIR  socket and NSS snapshot (default %s)\n"
		"  -h, --help             show this help\n"
		"      --version          show the version\n",
		AGENT_SYSCONFDIR, AGENT_STATEDIR, AGENT_RUNDIR);
}

/* fds 0-2 must be open (so nothing we open lands there) and nothing else
 * inherited may stay open. */
static void sanitize_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
	close_range(3, ~0U, 0);
}

static int check_config(const char *path)
{
	struct agent_config *cfg = NULL;
	char err[512];
	int r;

	r = agent_config_load(path, &cfg, err, sizeof(err));
	if (r == 0)
		r = agent_config_check_host(cfg, &agent_host_files_system, err, sizeof(err));
	agent_config_free(cfg);
	if (r < 0) {
		fprintf(stderr, "agentd: %s\n", err);
		return 1;
	}
	printf("%s: ok\n", path);
	return 0;
}

/* Exit 0: nothing found; 1: findings (listed on stdout); 2: nothing could
 * be read. The policy's prefix and uid range are compared with
 * pam_agent's arguments when the policy file loads. */
static int check_host(const char *config_path, const char *root)
{
	struct agent_config *cfg = NULL;
	char err[512];
	int n;

	if (agent_config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentd: %s (compared with the defaults instead)\n", err);
		cfg = NULL;
	}
	n = agentd_check_host(root, cfg, stdout);
	agent_config_free(cfg);
	if (n < 0) {
		fprintf(stderr, "agentd: --check-host: no sudoers, PAM or nsswitch file under %s\n",
			root[0] ? root : "/");
		return 2;
	}
	if (n > 0) {
		fprintf(stderr, "agentd: %d setting(s) weaken enforcement\n", n);
		return 1;
	}
	printf("host settings: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_CHECK = 256,
		OPT_STATE,
		OPT_RUNTIME,
		OPT_VERSION,
		OPT_INIT_STATE,
		OPT_HOST,
		OPT_ROOT
	};
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "init-state", no_argument, NULL, OPT_INIT_STATE },
		{ "check-host", no_argument, NULL, OPT_HOST },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "foreground", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct agentd_opts o = {
		.config_path = AGENT_SYSCONFDIR "/agentd.conf",
		.state_dir = AGENT_STATEDIR,
		.runtime_dir = AGENT_RUNDIR,
	};
	bool check = false, host = false;
	const char *root = "";
	int c;

	sanitize_fds();
	while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_HOST:
			host = true;
			break;
		case OPT_ROOT:
			root = optarg;
			break;
		case 'f':
			o.foreground_log = true;
			break;
		case OPT_INIT_STATE:
			o.init_state = true;
			break;
		case OPT_STATE:
			o.state_dir = optarg;
			break;
		case OPT_RUNTIME:
			o.runtime_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("agentd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'agentd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentd: unexpected argument '%s'\nTry 'agentd --help'.\n",
			argv[optind]);
		return 2;
	}
	if (check)
		return check_config(o.config_path);
	if (host)
		return check_host(o.config_path, root);
	if (geteuid() != 0) {
		fprintf(stderr, "agentd: must run as root\n");
		return 1;
	}
	umask(077);
	prctl(PR_SET_DUMPABLE, 0);
	return agentd_main(&o);
}
