#include "feat.h"

const char *feat_greeting(void)
{
	return "libfeat 1.0, as released";
}

int feat_add(int a, int b)
{
	return a + b;
}
