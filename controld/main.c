#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("controld %s\n", AF_VERSION);
		return 0;
	}
	fprintf(stderr, "controld: not yet\n");
	return 2;
}
