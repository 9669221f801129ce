build-cons/obj/common/hash.o: common/hash.c common/hash.h common/err.h
common/hash.h:
common/err.h:
