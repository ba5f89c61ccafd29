// SPDX-License-Identifier: MIT
/*
 * exec.c - `exec`: run a command inside the attached cgroup subtree.
 *
 * A socket's cgroup is fixed when it is created, so a proxy (or an
 * application) must join the subtree before it opens sockets. exec forks,
 * moves the child into a child cgroup of the attached one, and execs the
 * command there; the parent waits, forwards SIGINT/SIGTERM/SIGHUP, removes
 * the cgroup if it created it, and exits with the command's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "parse.h"

static pid_t child = -1;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static void exec_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] exec [--cgroup NAME] -- COMMAND [ARG]...\n\n"
		"Run COMMAND in a child cgroup of the instance's attached cgroup, so its\n"
		"sockets are subject to redirection (or, for a proxy, so its listener\n"
		"and identity are inside the subtree).\n\n"
		"  --cgroup NAME   the child cgroup (created if missing, and then removed\n"
		"                  when COMMAND exits); default: exec-PID\n"
		"Exit status: COMMAND's, or 1 if it could not be started.\n");
}

int exec_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char canon[PATH_MAX], defname[32], procs[PATH_MAX + 16];
	const char *name = NULL, *why = NULL;
	struct crd_config cfg;
	struct sigaction sa;
	struct crd_inst in;
	bool created = false;
	int c, err, status, fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			name = optarg;
			break;
		case 'h':
			exec_usage(stdout);
			return 0;
		default:
			crd_try_help("exec");
			return 1;
		}
	}
	if (optind >= argc) {
		crd_err("exec: a COMMAND is needed");
		crd_try_help("exec");
		return 1;
	}
	if (!name) {
		snprintf(defname, sizeof(defname), "exec-%d", (int)getpid());
		name = defname;
	}
	if (crd_parse_name(name, &why)) {
		crd_err("exec: --cgroup '%s': %s", name, why);
		return 1;
	}
	err = crd_inst_open(crd_instance, false, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" : strerror(-err));
		return 1;
	}
	err = crd_inst_get_config(&in, &cfg);
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance, strerror(-err));
		return 1;
	}
	err = crd_cg_resolve(name, cfg.cgroup_path, true, canon, sizeof(canon), NULL,
			     NULL, &created, &why);
	if (err) {
		crd_err("exec: cgroup '%s/%s': %s", cfg.cgroup_path, name, why);
		return 1;
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", canon);

	child = fork();
	if (child < 0) {
		crd_err("exec: fork: %s", strerror(errno));
		goto cleanup_fail;
	}
	if (child == 0) {
		char pid[16];
		int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());

		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, n) != n) {
			crd_err("exec: joining cgroup '%s': %s", canon, strerror(errno));
			_exit(126);
		}
		close(fd);
		execvp(argv[optind], argv + optind);
		crd_err("exec: '%s': %s", argv[optind], strerror(errno));
		_exit(127);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			crd_err("exec: waitpid: %s", strerror(errno));
			goto cleanup_fail;
		}
	}
	if (created)
		rmdir(canon);   /* fails, harmlessly, if a daemon child stayed */
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
cleanup_fail:
	if (created)
		rmdir(canon);
	return 1;
}
