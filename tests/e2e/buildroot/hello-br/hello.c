/* hello-br: prints a greeting and the directory it was compiled in. */
#include <stdio.h>

#ifndef BUILT_IN
#error "BUILT_IN must be defined (the build directory)"
#endif

int main(void)
{
	printf("hello from a slipway buildroot\n");
	printf("built in %s\n", BUILT_IN);
	return 0;
}
