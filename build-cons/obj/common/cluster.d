build-cons/obj/common/cluster.o: common/cluster.c common/cluster.h \
 common/err.h common/alloc.h common/file.h common/yamldoc.h
common/cluster.h:
common/err.h:
common/alloc.h:
common/file.h:
common/yamldoc.h:
