#include <stdio.h>

int main(void) {
        puts("Hello from azl-mini.");
        return 0;
}
