/* libfeat: a tiny shared library for slipway's buildroot tests. */
#ifndef FEAT_H
#define FEAT_H

/* The library's greeting (a static string). */
const char *feat_greeting(void);

/* a + b. */
int feat_add(int a, int b);

#endif
