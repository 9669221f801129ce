build-cons/obj/common/metrics.o: common/metrics.c common/metrics.h \
 common/alloc.h
common/metrics.h:
common/alloc.h:
