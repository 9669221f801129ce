build-cons/obj/cli/fail.o: cli/fail.c cli/cli.h
cli/cli.h:
