build-cons/obj/common/name.o: common/name.c common/name.h
common/name.h:
