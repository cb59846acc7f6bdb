/* Validation and formatting of the small strings that cross trust
 * boundaries: durations, names, labels, timestamps. No allocation. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "90s", "15m", "2h", "1d", "1h30m", "45" (seconds). Units s, m, h, d, w.
 * Returns 0 and *sec, -EINVAL for syntax (empty, unknown unit, junk, sign,
 * spaces), -ERANGE above AGENT_MAX_TTL_SEC or on overflow. 0 is allowed
 * here; callers reject it where it makes no sense. */
int agent_duration_parse(const char *s, uint64_t *sec);

/* Shortest canonical form: 0 -> "0s", 90 -> "1m30s", 7200 -> "2h".
 * Returns 0, or -ENOSPC if buf is too small. */
int agent_duration_format(uint64_t sec, char *buf, size_t len);

/* RFC 3339 UTC with a Z: "2026-11-22T14:26:19Z". 0 or -ENOSPC/-EINVAL. */
int agent_time_format(int64_t unix_sec, char *buf, size_t len);

/* A login name as useradd accepts by default: [a-z_][a-z0-9_-]*[$]?,
 * 1..AGENT_NAME_MAX bytes. */
bool agent_valid_username(const char *s);

/* A purpose or group-like name: [a-z][a-z0-9_-]*, 1..AGENT_PURPOSE_MAX. */
bool agent_valid_purpose(const char *s);

/* name_prefix: [a-z][a-z0-9_-]*, 1..AGENT_PREFIX_MAX. */
bool agent_valid_prefix(const char *s);

/* Free text (actor, task, reason): 0..max bytes of valid UTF-8 with no
 * control characters (C0, DEL, C1). */
bool agent_valid_text(const char *s, size_t max);

/* An absolute path without "..", "//", control characters or a trailing "/"
 * (except "/" itself), at most AGENT_PATH_MAX bytes. */
bool agent_valid_abspath(const char *s);

/* One OpenSSH public key line, "TYPE BASE64 [COMMENT]", without options:
 * a known key type, base64 of at least 16 characters, an optional comment
 * of printable ASCII; at most AGENT_SSH_KEY_MAX bytes, no control
 * characters. */
bool agent_valid_ssh_key(const char *s);
