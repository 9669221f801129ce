build-cons/obj/common/yamldoc.o: common/yamldoc.c common/yamldoc.h \
 common/err.h common/alloc.h
common/yamldoc.h:
common/err.h:
common/alloc.h:
