/* featcheck: exercises libfeat; prints its greeting, fails if feat_add is
 * wrong. */
#include <stdio.h>

#include "feat.h"

int main(void)
{
	if (feat_add(2, 3) != 5) {
		fprintf(stderr, "featcheck: feat_add(2, 3) != 5\n");
		return 1;
	}
	printf("%s\n", feat_greeting());
	return 0;
}
