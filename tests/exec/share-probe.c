// SPDX-License-Identifier: GPL-2.0
// make test's SHARE check: built static for aarch64 on the host, into the
// shared folder, and run there by the guest (EXEC='./share-probe FILE').
// It says where it runs and writes FILE for the host to read back.
#include <stdio.h>
#include <sys/utsname.h>

int main(int argc, char **argv)
{
	struct utsname u;
	FILE *f;

	if (argc != 2 || uname(&u) != 0) {
		fprintf(stderr, "usage: share-probe FILE\n");
		return 2;
	}
	printf("share-probe runs on %s %s\n", u.machine, u.release);
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "written by the guest\n") < 0 || fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
