/* SPDX-License-Identifier: MIT */
#pragma once

/* The options every file system writer takes (ext4.h, vfat.h, iso9660.h):
 * which part of the tree, how big, and the identity and time that make the
 * bytes reproducible. A writer documents which fields it uses; the others
 * must be zero. Adding a file system = one file here with a build function
 * over (Tree, FsOptions, path) + its tests (docs/development.md). */

#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"

typedef struct FsOptions {
        /* The subtree (a tree path) that becomes the file system's root: "/"
         * or NULL for all of it, "/boot/efi" for an ESP. */
        const char *root;
        /* Tree paths of subtrees left out (other partitions' mount points):
         * what is below them is not written, the directory itself stays. */
        const char *const *exclude;
        size_t n_exclude;
        /* Bytes; 0 = the smallest that fits (where the file system can
         * size itself). */
        uint64_t size;
        /* SOURCE_DATE_EPOCH: every time stored clamps to it (or is it). */
        int64_t time;
        /* The volume label (ext4: 16 bytes, FAT: 11 short-name characters,
         * ISO 9660: the volume id, 1 to 32 d-characters); NULL: none. */
        const char *label;
        /* The file system's identity: ext4's s_uuid, FAT's volume id (its
         * first 4 bytes, little-endian), a hybrid ISO's GPT disk GUID. */
        uint8_t uuid[16];
        /* ext4's s_hash_seed for htree directories. */
        uint8_t hash_seed[16];
} FsOptions;

/* A node of the tree as a file system holds it. */
typedef struct FsNode {
        TreeNode *node;
        const char *path; /* in the file system: "/", "/etc", ... (points into node->path) */
} FsNode;

/* The nodes of t that the file system of o holds, sorted by path (so a
 * directory comes before what is in it, and the root, "/", first): those at
 * or below o->root, less what lies below each of o->exclude. *ret is
 * malloc'd; the nodes stay the tree's. -ENOENT if o->root is not in the
 * tree, -ENOTDIR if it is not a directory. */
int fs_select(const Tree *t, const FsOptions *o, FsNode **ret, size_t *ret_n);
