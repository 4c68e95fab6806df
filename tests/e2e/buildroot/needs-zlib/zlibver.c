/* Prints the version of the zlib it runs with; needs zlib.h and -lz. */
#include <stdio.h>
#include <zlib.h>

int main(void)
{
	printf("zlib %s\n", zlibVersion());
	return 0;
}
