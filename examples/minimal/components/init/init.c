#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* One line of evidence: the first line of a file, if there is one. */
static void first_line(const char *what, const char *path) {
        char buf[256];
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        if (fgets(buf, sizeof buf, f)) {
                buf[strcspn(buf, "\n")] = 0;
                printf("SLIPWAY-EVIDENCE %s=%s\n", what, buf);
        }
        fclose(f);
}

/* The accounts people log in with (uid 1000 and up). */
static void users(void) {
        char line[512];
        FILE *f = fopen("/etc/passwd", "re");
        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                char *name = strtok(line, ":"), *pw = strtok(NULL, ":"), *uid = strtok(NULL, ":");
                if (name && pw && uid && atoi(uid) >= 1000)
                        printf("SLIPWAY-EVIDENCE user=%s\n", name);
        }
        fclose(f);
}

/* The units enabled: the symlinks in /etc/systemd/system/TARGET.wants. */
static void wants(void) {
        DIR *d = opendir("/etc/systemd/system");
        struct dirent *e;
        if (!d)
                return;
        while ((e = readdir(d))) {
                size_t l = strlen(e->d_name);
                if (l < 6 || strcmp(e->d_name + l - 6, ".wants") != 0)
                        continue;
                char path[512];
                snprintf(path, sizeof path, "/etc/systemd/system/%s", e->d_name);
                DIR *w = opendir(path);
                struct dirent *u;
                while (w && (u = readdir(w)))
                        if (u->d_name[0] != '.')
                                printf("SLIPWAY-EVIDENCE wants=%s/%s\n", e->d_name, u->d_name);
                if (w)
                        closedir(w);
        }
        closedir(d);
}

/* The device / is on and whether it is mounted read-only (from stat and
 * statvfs: the image may have no /proc to mount). */
static void root_mount(void) {
        struct stat st;
        struct statvfs sv;
        if (stat("/", &st) == 0 && statvfs("/", &sv) == 0)
                printf("SLIPWAY-EVIDENCE root=%u:%u %s\n", major(st.st_dev), minor(st.st_dev),
                       sv.f_flag & ST_RDONLY ? "ro" : "rw");
}

int main(void) {
        (void) mount("proc", "/proc", "proc", 0, NULL);
        /* What the image was made or customized with, for the boot tests. */
        first_line("hostname", "/etc/hostname");
        first_line("motd", "/etc/motd");
        users();
        wants();
        root_mount();
        printf("SLIPWAY-BOOT-OK azl-mini\n");
        fflush(stdout);
        sync();
        reboot(RB_POWER_OFF);
        return 0;
}
