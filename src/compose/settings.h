/* SPDX-License-Identifier: MIT */
#pragma once

/* An image's settings applied to its tree after the packages are in: host
 * name, os-release, accounts, files, services, SELinux mode and labels. What
 * each does is what the tool a user would otherwise run does (hostnamectl,
 * useradd, install, systemctl enable/disable, setfiles), without running
 * anything from the tree. */

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

/* Everything but SELinux labels, in this order: hostname, os-release,
 * users and groups, files, services, /etc/selinux/config. Input problems
 * (an unknown owner, a service no package ships, ...) are errors in d with
 * the configuration's position; -EINVAL then. */
int settings_apply(Tree *t, const Project *p, const Image *im, Diagnostics *d);
/* The same for a finished image being changed (`slipway customize`): no
 * os-release is written, and /etc/selinux/config changes only when im gives
 * 'selinux'. */
int settings_apply_changes(Tree *t, const Project *p, const Image *im, Diagnostics *d);

/* Labels every node (security.selinux) from the file_contexts of the policy
 * the tree holds (the SELINUXTYPE of its /etc/selinux/config, or the one
 * policy present), through libselinux's selabel API. A tree without a policy
 * is left as it is: *ret_policy is NULL then, else the policy's name
 * (malloc'd). *ret_labelled counts the nodes labelled. */
int settings_label(Tree *t, const Image *im, Diagnostics *d, char **ret_policy, size_t *ret_labelled);
/* Labels only the nodes without a security.selinux label: what an output
 * writer added to its copy of a labelled tree (fstab, mount points,
 * lost+found). Nothing without a policy. */
int settings_label_new(Tree *t, const Image *im, Diagnostics *d);

/* The tree's text file at path (following no symlink), NUL-terminated, in
 * *ret (malloc'd); -ENOENT if there is none or it is not a regular file. */
int tree_read_text(const Tree *t, const char *path, char **ret);

/* Writes a regular file, keeping the mode and owner of a file that is there
 * (else mode, root:root), with mtime. */
int tree_write_text(Tree *t, const char *path, const char *text, uint32_t mode, int64_t mtime);
