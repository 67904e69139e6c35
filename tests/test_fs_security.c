/*
** test_fs_security: the filesystem backend's directory and file modes
** (SPEC §3: dir_mode, file_mode, cache_dir). Under umask 0, which narrows
** nothing, the directories it creates and the store's files get exactly
** the configured modes (0700 and 0600 by default); under umask 0277 they
** are not narrowed either. A cache_dir that every user can write to (0777,
** or 01777 like /tmp) or that another user owns is refused before anything
** is created in it; a private directory of the user, and one root owns,
** are accepted (controls: the checks can fail both ways).
**
** Root ignores file modes, so as root the checks run in a child that
** loaded the extension and then became nobody (65534); the directory owned
** by another user (12345) is made by root before the fork. Not as root,
** that directory cannot be made: the other checks run, the skipped one
** says so, and the program exits 77 (skipped) when they pass.
**
**   test_fs_security EXTENSION
*/
#include "ext_conn.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define WHO "test_fs_security"
#define NOBODY 65534
#define FOREIGN 12345
#define SKIPPED 77

static int g_fail; /* failures so far */
static char g_dir[] = "/tmp/pc_test_fs_security.XXXXXX";

static void failf(const char *what, const char *detail) {
  fprintf(stderr, WHO ": %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  g_fail++;
}

/* One line per check: its name and whether it passed. */
static void report(const char *check, int failed_before) {
  printf("%s: %s\n", check, g_fail > failed_before ? "FAILED" : "ok");
  fflush(stdout);
}

/* A path under the test's directory. */
static const char *at(const char *name) {
  return ext_path(g_dir, name);
}

/* The permission bits of a file, or -1 when it does not exist. */
static int mode_of(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return -1;
  return (int)(st.st_mode & 07777);
}

/* The file must exist with exactly `want`. */
static void want_mode(const char *path, int want) {
  int m = mode_of(path);
  char msg[640];
  if (m == want) return;
  if (m < 0)
    snprintf(msg, sizeof msg, "%s does not exist (want mode %04o)", path, want);
  else
    snprintf(msg, sizeof msg, "%s has mode %04o, not %04o", path, m, want);
  failf("wrong mode", msg);
}

/* The number of entries of a directory other than . and .. (-1: error). */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

/* Makes dir with exactly mode, whatever the umask. */
static int make_dir(const char *dir, int mode) {
  if (mkdir(dir, (mode_t)mode) != 0 || chmod(dir, (mode_t)mode) != 0) {
    failf("mkdir", dir);
    return 1;
  }
  return 0;
}

/* cache_open(name) over dir with the extra JSON arguments `more` (", 'k',
** 'v'" pairs), then a cache_set: 0 when both worked, else 1 with *err set
** to the error (sqlite3_free). */
static int open_and_set(sqlite3 *db, const char *name, const char *dir,
                        const char *more, char **err) {
  char *sql = sqlite3_mprintf(
      "SELECT cache_open('%q', json_object('backend', 'filesystem', "
      "'cache_dir', '%q'%s));"
      "SELECT cache_set('k', 'v', NULL, '%q');",
      name, dir, more, name);
  *err = NULL;
  int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, err) : SQLITE_NOMEM;
  sqlite3_free(sql);
  return rc != SQLITE_OK;
}

static void close_cache(sqlite3 *db, const char *name) {
  char *sql = sqlite3_mprintf("SELECT cache_close('%q')", name);
  if (!sql || ext_exec(WHO, db, sql)) g_fail++;
  sqlite3_free(sql);
}

/* A cache over dir must open and take a write; its store's files (the
** database and its -wal at least: they exist while the cache is open)
** must have exactly file_mode. */
static void accepted(sqlite3 *db, const char *name, const char *dir,
                     const char *more, int file_mode) {
  char *err;
  if (open_and_set(db, name, dir, more, &err)) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s", dir, err ? err : "(no message)");
    failf("cache_open should have worked", msg);
    sqlite3_free(err);
    return;
  }
  static const char *const files[] = {"pocketcache.db", "pocketcache.db-wal",
                                      "pocketcache.db-shm"};
  for (int i = 0; i < 3; i++) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    if (i < 2 || mode_of(path) >= 0)
      want_mode(path, file_mode);
    else
      printf("  (%s does not exist; not checked)\n", path);
  }
  close_cache(db, name);
}

/* A cache over dir must be refused with an error containing `want`, and
** leave dir as empty as it was. */
static void refused(sqlite3 *db, const char *name, const char *dir,
                    const char *want) {
  char *err;
  char msg[1024];
  if (!open_and_set(db, name, dir, "", &err)) {
    failf("cache_open should have failed", dir);
    close_cache(db, name);
  } else if (!err || !strstr(err, want)) {
    snprintf(msg, sizeof msg, "%s: error '%s', not '%s'", dir,
             err ? err : "(none)", want);
    failf("wrong error", msg);
  } else {
    printf("  refused: %s\n", err);
  }
  sqlite3_free(err);
  if (entries(dir) != 0)
    failf("a file was created in a refused directory", dir);
}

static void check_default_modes(sqlite3 *db) {
  int before = g_fail;
  accepted(db, "a", at("new/sub"), "", 0600);
  want_mode(at("new"), 0700);
  want_mode(at("new/sub"), 0700);
  report("default modes: new directories 0700, files 0600", before);
}

static void check_configured_modes(sqlite3 *db) {
  int before = g_fail;
  accepted(db, "b", at("conf/sub"), ", 'dir_mode', '0750', 'file_mode', '0640'",
           0640);
  want_mode(at("conf"), 0750);
  want_mode(at("conf/sub"), 0750);
  report("dir_mode 0750, file_mode 0640: exactly those", before);
}

/* A strict umask does not narrow the configured modes either. */
static void check_strict_umask(sqlite3 *db) {
  int before = g_fail;
  mode_t old = umask(0277);
  accepted(db, "c", at("strict"), ", 'dir_mode', '0750', 'file_mode', '0640'",
           0640);
  umask(old);
  want_mode(at("strict"), 0750);
  report("under umask 0277: still 0750 and 0640", before);
}

static void check_world_writable(sqlite3 *db) {
  int before = g_fail;
  if (make_dir(at("open"), 0777) == 0)
    refused(db, "w1", at("open"), "writable by every user");
  if (make_dir(at("sticky"), 01777) == 0)
    refused(db, "w2", at("sticky"), "writable by every user");
  report("a directory of mode 0777 or 01777 is refused", before);
}

/* Made by root before the fork (see make_root_dirs()). */
static void check_foreign(sqlite3 *db) {
  int before = g_fail;
  refused(db, "f", at("foreign"), "owned by uid 12345");
  report("a directory owned by uid 12345 is refused", before);
}

static void check_root_owned(sqlite3 *db) {
  int before = g_fail;
  accepted(db, "r", at("rootown"), "", 0600);
  report("control: a root-owned directory the user can write to works", before);
}

static void check_private(sqlite3 *db) {
  int before = g_fail;
  if (make_dir(at("mine"), 0700) == 0) accepted(db, "m", at("mine"), "", 0600);
  report("control: the user's own directory of mode 0700 works", before);
}

/* Every check but those needing root's directories; `as_root` says
** whether those were made. */
static void run_checks(sqlite3 *db, int as_root) {
  check_default_modes(db);
  check_configured_modes(db);
  check_strict_umask(db);
  check_world_writable(db);
  if (as_root) {
    check_foreign(db);
    check_root_owned(db);
  } else {
    printf("a directory owned by another user is refused: SKIPPED (not run "
           "as root, so no directory owned by another user can be made)\n");
    printf("control: a root-owned directory works: SKIPPED (likewise)\n");
  }
  check_private(db);
}

/* As root: the test's directory becomes nobody's; "foreign" belongs to
** another user; "rootown" is root's, writable by nobody's group. */
static int make_root_dirs(void) {
  if (chown(g_dir, NOBODY, NOBODY) != 0 || make_dir(at("foreign"), 0755) ||
      chown(at("foreign"), FOREIGN, FOREIGN) != 0 ||
      make_dir(at("rootown"), 0770) || chown(at("rootown"), 0, NOBODY) != 0) {
    failf("setup as root", strerror(errno));
    return 1;
  }
  return 0;
}

/* Becomes nobody for good: 0, or 1 after saying what failed. */
static int drop_root(void) {
  if (setgroups(0, NULL) != 0) {
    failf("setgroups", strerror(errno));
    return 1;
  }
  if (setgid(NOBODY) != 0) {
    failf("setgid", strerror(errno));
    return 1;
  }
  if (setuid(NOBODY) != 0) {
    failf("setuid", strerror(errno));
    return 1;
  }
  if (setuid(0) == 0 || geteuid() != NOBODY || getegid() != NOBODY) {
    failf("root could be regained", NULL);
    return 1;
  }
  return 0;
}

/* The child: loads the extension as root (nobody may not read it), then
** runs the checks as nobody. Its exit status is the result. */
static void child(const char *ext) {
  alarm(60);
  sqlite3 *db = ext_connect(WHO, ":memory:", ext, 0);
  if (!db) _exit(1);
  if (drop_root()) _exit(1);
  printf("running the checks as uid %u\n", (unsigned)geteuid());
  run_checks(db, 1);
  sqlite3_close(db);
  fflush(stdout);
  _exit(g_fail ? 1 : 0);
}

static void as_root(const char *ext) {
  if (make_root_dirs()) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    failf("fork", strerror(errno));
    return;
  }
  if (pid == 0) child(ext);
  int status;
  if (waitpid(pid, &status, 0) != pid) {
    failf("waitpid", strerror(errno));
  } else if (WIFSIGNALED(status)) {
    char sig[32];
    snprintf(sig, sizeof sig, "signal %d", WTERMSIG(status));
    failf("the unprivileged child was killed", sig);
  } else if (WEXITSTATUS(status) != 0) {
    g_fail++;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: " WHO " EXTENSION\n");
    return 2;
  }
  umask(0);
  if (!mkdtemp(g_dir)) {
    perror(WHO ": mkdtemp");
    return 1;
  }
  int root = geteuid() == 0;
  if (root) {
    as_root(argv[1]);
  } else {
    sqlite3 *db = ext_connect(WHO, ":memory:", argv[1], 0);
    if (db) {
      run_checks(db, 0);
      sqlite3_close(db);
    } else {
      g_fail++;
    }
  }
  if (ext_remove_tree(WHO, g_dir)) g_fail++;
  if (g_fail) {
    printf(WHO ": FAILED\n");
    return 1;
  }
  if (!root) {
    printf(WHO ": SKIPPED (the checks that need root were not run; the "
               "others passed)\n");
    return SKIPPED;
  }
  printf(WHO ": ok\n");
  return 0;
}
