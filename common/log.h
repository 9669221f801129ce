/*
 * Logging for the daemons: one line per event on stderr as key=value pairs:
 *   ts=2026-11-22T10:00:00.123Z level=info event=... k=v
 * Library modules do not log; they return errors with context.
 * Thread-safe (one write(2) per line).
 */
#ifndef AF_COMMON_LOG_H
#define AF_COMMON_LOG_H

enum af_log_level {
	AF_LOG_DEBUG = 0,
	AF_LOG_INFO = 1,
	AF_LOG_WARN = 2,
	AF_LOG_ERROR = 3,
};

extern enum af_log_level af_log_level;

/* Parses "debug|info|warn|error"; returns 0 or AF_EINVAL. */
int af_log_parse_level(const char *s, enum af_log_level *ret_level);
void af_log_set_level(enum af_log_level level);
/* Sets the prefix of every line, e.g. "node=2". Copied. */
void af_log_set_prefix(const char *prefix);

void af_log(enum af_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Logs at error level and exits(1). */
_Noreturn void af_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#define log_debug(...)                                                         \
	do {                                                                   \
		if (af_log_level <= AF_LOG_DEBUG)                              \
			af_log(AF_LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)
#define log_info(...)                                                          \
	do {                                                                   \
		if (af_log_level <= AF_LOG_INFO)                               \
			af_log(AF_LOG_INFO, __VA_ARGS__);                      \
	} while (0)
#define log_warn(...)                                                          \
	do {                                                                   \
		if (af_log_level <= AF_LOG_WARN)                               \
			af_log(AF_LOG_WARN, __VA_ARGS__);                      \
	} while (0)
#define log_error(...) af_log(AF_LOG_ERROR, __VA_ARGS__)
#define fatal(...) af_fatal(__VA_ARGS__)

#endif
