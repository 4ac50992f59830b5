/*
 * The plumbing every daemon shares, so that each main() is a page:
 *
 *   static struct daemon d = {
 *           .name = "marshald",
 *           .default_conf = "/etc/vocal/marshald.conf",
 *           .table = marshal_keys,
 *           .conf_size = sizeof(struct marshal_conf),
 *   };
 *   int main(int argc, char **argv)
 *   {
 *           switch (daemon_start(&d, argc, argv)) {
 *           case -1: return 1;           // bad usage or config (printed)
 *           case 1: return 0;            // -n or -v did their job
 *           }
 *           ... bind sockets, build the loop, from d.conf ...
 *           daemon_signals(&d, loop, &(struct daemon_hooks){apply, drain, ctx});
 *           daemon_ready();              // -D: the starting shell returns now
 *           ev_run(loop);                // until drain calls ev_break
 *           daemon_free(&d);
 *           return 0;                    // the pid file goes at exit
 *   }
 *
 * Command line (the same for every daemon):
 *   -f file     configuration file (default: .default_conf)
 *   -n          check the configuration (and run .check when set), print
 *               "configuration OK" or the error, and exit 0 or 1
 *   -v          print the normalised configuration (every key, defaults
 *               included) and exit
 *   -d          debug: stay in the foreground, log to stderr at LOG_DEBUG
 *   -D          daemonize: detach, log to syslog
 *   -p file     pid file, locked while the daemon runs
 * Without -d or -D a daemon stays in the foreground and logs to stderr at
 * LOG_INFO: what systemd and containers want.
 *
 * Signals, through the event loop: SIGHUP re-reads the configuration file
 * into a fresh struct and makes it current only when it parses and the
 * daemon's reload hook accepts it; otherwise the old one stays and the
 * reason is logged. SIGTERM and SIGINT call the drain hook once (stop
 * taking new work, finish, then ev_break); a second one exits at once.
 * SIGPIPE is ignored: a peer closing a socket is an error return, not death.
 */
#ifndef VOCAL_DAEMON_H
#define VOCAL_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct config_key;
struct ev_loop;

struct daemon_opts {
	const char *conf_path;  /* -f, else the default */
	const char *pid_path;   /* -p, else NULL: no pid file */
	bool check;             /* -n */
	bool print;             /* -v */
	bool debug;             /* -d */
	bool detach;            /* -D */
};

struct daemon_hooks {
	/* SIGHUP, after new_conf parsed cleanly (old_conf is still current).
	 * Apply what can change at run time and return 0 to make new_conf
	 * current; return -1 (after logging why) to keep old_conf. NULL:
	 * accept every valid file. */
	int (*reload)(void *new_conf, const void *old_conf, void *arg);
	/* First SIGTERM/SIGINT: stop accepting work, finish what is in
	 * flight, then ev_break the loop. NULL: ev_break at once. */
	void (*drain)(void *arg);
	void *arg;
};

struct daemon {
	/* set by the caller */
	const char *name;                 /* for logs and usage: "marshald" */
	const char *default_conf;         /* used when -f is absent */
	const struct config_key *table;   /* the daemon's config keys */
	size_t conf_size;                 /* sizeof its config struct */
	/* NULL, or what -n checks beyond the file's syntax (files the keys
	 * name: a certificate and its key): 0, or -1 with the reason in err.
	 * It may log warnings. The daemon runs the same checks at start. */
	int (*check)(const void *conf, char *err, size_t errlen);

	/* set by daemon_start and daemon_signals */
	struct daemon_opts opts;
	char *conf_path;                  /* absolute, for reloads after chdir("/") */
	void *conf;                       /* the current configuration (heap) */
	struct ev_loop *loop;
	struct daemon_hooks hooks;
	bool draining;
};

/*
 * Parses the common options (getopt-style: "-dv", "-f file", "-ffile",
 * "--" ends options). Unset fields keep what o held (so set defaults
 * first). Returns 0, or -1 with a message (ending in the usage line)
 * in err. Holds no global state, unlike getopt.
 */
int daemon_parse_args(struct daemon_opts *o, const char *name, int argc, char *const argv[],
		      char *err, size_t errlen);

/*
 * Everything before the daemon's own set-up: parses argv, starts logging,
 * loads the configuration into d->conf, handles -v and -n, takes the pid
 * file and, with -D, detaches (stderr stays open until daemon_ready so
 * that set-up errors still reach the starting terminal).
 * Returns 0 to carry on; 1 when -n or -v has done its job (exit 0); -1
 * when it failed, after printing why (exit 1).
 */
int daemon_start(struct daemon *d, int argc, char *argv[]);

/*
 * Wires SIGHUP, SIGTERM and SIGINT to loop, and ignores SIGPIPE. hooks
 * is copied. Returns 0, or -1 (errno set) when the loop refuses.
 */
int daemon_signals(struct daemon *d, struct ev_loop *loop, const struct daemon_hooks *hooks);

/*
 * What SIGHUP does, callable directly (a control socket's "reload"):
 * parses d->conf_path into a fresh struct; on success and when the reload
 * hook agrees, makes it d->conf and frees the old one. Logs the outcome.
 * Returns 0 when the new configuration is current, -1 when the old stays.
 */
int daemon_reload(struct daemon *d);

/* Frees the current configuration and the saved path. */
void daemon_free(struct daemon *d);

/*
 * Creates and locks (flock) the pid file at path and writes our pid. Fails
 * when another process holds the lock: "... already running (pid N)". The
 * file is removed at exit (only by this process, not by children forked
 * later); a stale file left by a killed daemon holds no lock and is taken
 * over. Returns 0, or -1 with the reason in err.
 */
int daemon_pidfile(const char *path, char *err, size_t errlen);

/* Removes and unlocks the pid file now (also done at exit). */
void daemon_pidfile_remove(void);

/*
 * Detaches from the terminal: fork, setsid, fork again (so the daemon can
 * never reacquire a controlling terminal), chdir("/"), stdin and stdout to
 * /dev/null. Returns 0 in the daemon; the calling process waits until the
 * daemon calls daemon_ready and exits 0, or exits 1 if the daemon dies
 * first, so that "vocald -D && next" only goes on once the daemon serves.
 * A pid file taken before is kept and rewritten with the daemon's pid.
 * Returns -1 with err set when a fork fails (nothing detached).
 */
int daemon_detach(char *err, size_t errlen);

/* Tells the waiting parent of daemon_detach that set-up is done, and
 * points stderr at /dev/null. Does nothing when not detached. */
void daemon_ready(void);

#endif
