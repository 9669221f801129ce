build-cons/obj/cli/output.o: cli/output.c cli/output.h cli/cli.h \
 common/timeutil.h
cli/output.h:
cli/cli.h:
common/timeutil.h:
