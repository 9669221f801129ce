build-cons/obj/common/timeutil.o: common/timeutil.c common/timeutil.h \
 common/err.h
common/timeutil.h:
common/err.h:
