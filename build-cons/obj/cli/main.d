build-cons/obj/cli/main.o: cli/main.c cli/cli.h cli/output.h \
 common/timeutil.h
cli/cli.h:
cli/output.h:
common/timeutil.h:
