#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void) {
        (void) mount("proc", "/proc", "proc", 0, NULL);
        printf("SLIPWAY-BOOT-OK azl-mini\n");
        fflush(stdout);
        sync();
        reboot(RB_POWER_OFF);
        return 0;
}
