/* agentbusd: options, daemon lifecycle and signals around the broker. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include <agentbus/plugin.h>

#include "core/broker.h"
#include "core/diag.h"
#include "core/hashmap.h"
#include "core/log.h"
#include "core/notify.h"

#ifndef AB_CONFIG_FILE
#define AB_CONFIG_FILE "/etc/agentbus/agentbus.ini"
#endif

struct options {
	const char *config;
	const char *plugin_dir;
	bool check_only;
	bool foreground;
	bool level_given;
	enum ab_log_level level;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: agentbusd [OPTION]...\n"
	        "The agentbus message broker.\n"
	        "\n"
	        "  -c, --config FILE     read FILE (default " AB_CONFIG_FILE ")\n"
	        "                        and the *.ini files of conf.d/ beside it\n"
	        "  -t, --check-config    check the configuration and its plugins, print every\n"
	        "                        error as file:line: message, exit 0 (good) or 1\n"
	        "  -p, --plugin-dir DIR  load plugins from DIR instead of [broker] plugin_dir\n"
	        "  -f, --foreground      stay in the foreground, log to stderr\n"
	        "  -l, --log-level LEVEL error, warning, notice, info or debug\n"
	        "      --version         print the version and exit\n"
	        "  -h, --help            print this help and exit\n"
	        "\n"
	        "Signals: SIGTERM/SIGINT shut down gracefully, SIGHUP reloads the configuration.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct options){ .config = AB_CONFIG_FILE, .level = AB_LOG_INFO };
	for (int c; (c = getopt_long(argc, argv, "c:tfl:p:h", longopts, NULL)) != -1;) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->check_only = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'p':
			o->plugin_dir = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->level) < 0) {
				fprintf(stderr, "agentbusd: unknown log level '%s'\n", optarg);
				return 2;
			}
			o->level_given = true;
			break;
		case 'V':
			printf("agentbusd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, AB_ABI_MAJOR,
			       AB_ABI_MINOR);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentbusd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

static void seed_hash(void)
{
	unsigned char key[16];
	evutil_secure_rng_get_bytes(key, sizeof key);
	hashmap_seed(key);
}

/* Fork into the background. The parent waits until the child reports ready
 * (or fails) through a pipe, so its exit status tells the truth. Returns the
 * pipe's write end in the child. */
static int daemonize(void)
{
	int ready[2];
	if (pipe(ready) < 0) {
		perror("agentbusd: pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("agentbusd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(ready[1]);
		char status = 1;
		ssize_t n;
		do
			n = read(ready[0], &status, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && status == 0 ? 0 : 1);
	}
	close(ready[0]);
	setsid();
	if (chdir("/") < 0)
		exit(1);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return ready[1];
}

static void report_ready(int fd, char status)
{
	if (fd < 0)
		return;
	ssize_t n = write(fd, &status, 1);
	(void)n;
	close(fd);
}

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
	broker_shutdown(arg);
	notify_systemd("STOPPING=1");
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	if (broker_stopping(arg)) {
		log_warning("SIGHUP ignored: shutting down");
		return;
	}
	notify_systemd_reloading();
	broker_reload(arg);
	notify_systemd("READY=1");
}

/* Load the config and its plugins (init, not start) and throw them away:
 * --check-config, and the check a daemonizing start makes while it still
 * has the user's terminal. Every error goes to stderr. Returns 0 or 1. */
static int check_config(const struct options *o, bool say_ok)
{
	struct event_base *base = event_base_new();
	struct broker *b = base ? broker_new(base, true) : NULL;
	struct diag d = { 0 };
	if (b && o->plugin_dir)
		broker_set_plugin_dir(b, o->plugin_dir);
	int rc = b && broker_load(b, o->config, &d) == 0 && d.count == 0 ? 0 : 1;
	for (size_t i = 0; i < d.count; i++)
		fprintf(stderr, "%s\n", d.lines[i]);
	if (rc == 0 && say_ok)
		fprintf(stderr, "%s: configuration OK\n", o->config);
	else if (rc != 0 && d.count == 0)
		fprintf(stderr, "%s: configuration failed (see the log above)\n", o->config);
	diag_clear(&d);
	broker_free(b);
	if (base)
		event_base_free(base);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc)
		return rc;
	seed_hash();
	signal(SIGPIPE, SIG_IGN);
	/* Started with stdin, stdout or stderr closed, the next file opened
	 * would take its number (and a child would inherit it as stdio). */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return 1;
	}

	if (o.check_only || !o.foreground) {
		log_setup(LOG_SINK_STDERR, o.level_given ? o.level : AB_LOG_WARNING);
		rc = check_config(&o, o.check_only);
		if (o.check_only || rc)
			return rc;
	}

	int ready_fd = -1;
	if (!o.foreground)
		ready_fd = daemonize();
	log_setup(o.foreground ? LOG_SINK_STDERR : LOG_SINK_SYSLOG, o.level);

	struct event_base *base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		report_ready(ready_fd, 1);
		return 1;
	}
	struct broker *b = broker_new(base, o.level_given);
	struct diag d = { 0 };
	if (b && o.plugin_dir)
		broker_set_plugin_dir(b, o.plugin_dir);
	if (!b || broker_load(b, o.config, &d) < 0 || d.count) {
		diag_log(&d);
		log_error("%s: configuration rejected, not starting", o.config);
		diag_clear(&d);
		broker_free(b);
		event_base_free(base);
		report_ready(ready_fd, 1);
		return 1;
	}
	struct event *sigterm = evsignal_new(base, SIGTERM, on_terminate, b);
	struct event *sigint = evsignal_new(base, SIGINT, on_terminate, b);
	struct event *sighup = evsignal_new(base, SIGHUP, on_reload, b);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);

	rc = 0;
	if (broker_start(b) < 0) {
		log_error("not starting: a plugin failed to start");
		rc = 1;
		report_ready(ready_fd, 1);
	} else {
		report_ready(ready_fd, 0);
		notify_systemd("READY=1");
		broker_run(b);
	}
	broker_free(b);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(base);
	if (rc == 0)
		log_notice("stopped");
	return rc;
}
