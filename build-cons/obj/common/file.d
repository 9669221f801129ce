build-cons/obj/common/file.o: common/file.c common/file.h common/err.h \
 common/alloc.h
common/file.h:
common/err.h:
common/alloc.h:
