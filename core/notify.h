/* systemd's readiness protocol (sd_notify), spoken directly over
 * $NOTIFY_SOCKET so the broker needs no libsystemd: READY=1 once serving,
 * RELOADING=1 during SIGHUP, STOPPING=1 on shutdown. Outside systemd these
 * do nothing. */
#ifndef AB_CORE_NOTIFY_H
#define AB_CORE_NOTIFY_H

void notify_systemd(const char *state);

/* RELOADING=1 with the MONOTONIC_USEC that Type=notify-reload expects. */
void notify_systemd_reloading(void);

#endif
