build-cons/obj/store/snapshot.o: store/snapshot.c store/store_int.h \
 store/store.h common/err.h common/alloc.h common/file.h
store/store_int.h:
store/store.h:
common/err.h:
common/alloc.h:
common/file.h:
