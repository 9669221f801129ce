build-cons/obj/common/sign.o: common/sign.c common/sign.h common/err.h \
 common/alloc.h common/file.h common/hash.h
common/sign.h:
common/err.h:
common/alloc.h:
common/file.h:
common/hash.h:
