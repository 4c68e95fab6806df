/* verity-open: what the example's initrd uses instead of veritysetup (which
 * busybox lacks): sets up a dm-verity device through the device-mapper
 * ioctls (linux/dm-ioctl.h), or reports whether one found corruption.
 *
 *   verity-open NAME DATA HASH ROOTHASH   reads the verity superblock at the
 *       start of HASH (cryptsetup's format, version 1), loads the table
 *       "verity 1 DATA HASH BS BS BLOCKS 1 ALG ROOTHASH SALT" (the kernel's
 *       Documentation/admin-guide/device-mapper/verity.rst) read-only as
 *       /dev/mapper/NAME and makes that node (there is no udev here)
 *   verity-open --status NAME            exit 0 if the device is intact so
 *       far ("V"), 1 if it has met a block that does not match ("C")
 *
 * Messages start with "verity: ". */

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CONTROL "/dev/mapper/control"

/* The superblock (cryptsetup's struct verity_sb): 512 bytes, little-endian. */
struct sb {
        char signature[8];
        uint32_t version, hash_type;
        uint8_t uuid[16];
        char algorithm[32];
        uint32_t data_block_size, hash_block_size;
        uint64_t data_blocks;
        uint16_t salt_size;
        uint8_t pad1[6];
        uint8_t salt[256];
        uint8_t pad2[168];
} __attribute__((packed));
_Static_assert(sizeof(struct sb) == 512, "verity superblock");

static int die(const char *fmt, const char *a, const char *b) {
        fprintf(stderr, "verity: ");
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
        return 2;
}

static void init_io(struct dm_ioctl *io, size_t size, const char *name) {
        memset(io, 0, size);
        io->version[0] = DM_VERSION_MAJOR;
        io->version[1] = 0;
        io->version[2] = 0;
        io->data_size = (uint32_t) size;
        io->data_start = sizeof(struct dm_ioctl);
        snprintf(io->name, sizeof io->name, "%s", name);
}

static int status(const char *name) {
        union {
                struct dm_ioctl io;
                char buf[16384];
        } u;
        int fd = open(CONTROL, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return die("cannot open %s: %s", CONTROL, strerror(errno));
        init_io(&u.io, sizeof u, name);
        if (ioctl(fd, DM_TABLE_STATUS, &u.io) < 0)
                return die("%s: cannot read its status: %s", name, strerror(errno));
        close(fd);
        if (u.io.target_count != 1)
                return die("%s: %s", name, "not one target");
        struct dm_target_spec *t = (struct dm_target_spec *) (u.buf + u.io.data_start);
        const char *s = (const char *) (t + 1);
        printf("%s\n", s);
        return s[0] == 'V' ? 0 : 1;
}

static int dev_of(const char *path, char out[32]) {
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
                return -1;
        snprintf(out, 32, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        return 0;
}

static int open_verity(const char *name, const char *data, const char *hash, const char *root_hash) {
        char ddev[32], hdev[32];
        struct sb sb;
        if (dev_of(data, ddev) < 0 || dev_of(hash, hdev) < 0)
                return die("%s or %s is not a block device", data, hash);
        int hfd = open(hash, O_RDONLY | O_CLOEXEC);
        if (hfd < 0 || pread(hfd, &sb, sizeof sb, 0) != (ssize_t) sizeof sb)
                return die("cannot read the superblock of %s: %s", hash, strerror(errno));
        close(hfd);
        /* The example's disks are x86_64: little-endian, the superblock's order. */
        if (memcmp(sb.signature, "verity\0\0", 8) != 0 || sb.version != 1 || sb.hash_type != 1 ||
            sb.salt_size > sizeof sb.salt || sb.algorithm[sizeof sb.algorithm - 1] != 0)
                return die("%s holds no verity superblock (version 1, hash type 1)%s", hash, "");

        char params[1024], salt[2 * 256 + 1] = "-";
        for (unsigned i = 0; i < sb.salt_size; i++)
                sprintf(salt + 2 * i, "%02x", sb.salt[i]);
        int n = snprintf(params, sizeof params, "1 %s %s %u %u %llu 1 %s %s %s", ddev, hdev, sb.data_block_size,
                         sb.hash_block_size, (unsigned long long) sb.data_blocks, sb.algorithm, root_hash, salt);
        if (n < 0 || (size_t) n >= sizeof params)
                return die("%s: %s", name, "table too long");

        int fd = open(CONTROL, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return die("cannot open %s: %s (is dm-mod loaded?)", CONTROL, strerror(errno));
        union {
                struct dm_ioctl io;
                char buf[2048];
        } u;
        init_io(&u.io, sizeof(struct dm_ioctl), name);
        if (ioctl(fd, DM_DEV_CREATE, &u.io) < 0)
                return die("%s: cannot create the device: %s", name, strerror(errno));
        uint64_t dev = u.io.dev;

        init_io(&u.io, sizeof u, name);
        u.io.target_count = 1;
        u.io.flags = DM_READONLY_FLAG;
        struct dm_target_spec *t = (struct dm_target_spec *) (u.buf + sizeof(struct dm_ioctl));
        t->sector_start = 0;
        t->length = sb.data_blocks * (sb.data_block_size / 512);
        snprintf(t->target_type, sizeof t->target_type, "verity");
        strcpy((char *) (t + 1), params);
        if (ioctl(fd, DM_TABLE_LOAD, &u.io) < 0)
                return die("%s: the kernel refused the table: %s (is dm-verity loaded?)", name, strerror(errno));

        init_io(&u.io, sizeof(struct dm_ioctl), name);
        if (ioctl(fd, DM_DEV_SUSPEND, &u.io) < 0) /* without DM_SUSPEND_FLAG: resume */
                return die("%s: cannot activate the device: %s", name, strerror(errno));
        close(fd);

        char node[160];
        snprintf(node, sizeof node, "/dev/mapper/%s", name);
        (void) unlink(node);
        if (mknod(node, S_IFBLK | 0600, (dev_t) dev) < 0)
                return die("cannot make %s: %s", node, strerror(errno));
        printf("verity: %s is device %u:%u, read-only\n", node, major((dev_t) dev), minor((dev_t) dev));
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "--status") == 0)
                return status(argv[2]);
        if (argc == 5)
                return open_verity(argv[1], argv[2], argv[3], argv[4]);
        fprintf(stderr, "usage: verity-open NAME DATA HASH ROOTHASH | verity-open --status NAME\n");
        return 2;
}
