build-cons/obj/store/store.o: store/store.c store/store_int.h \
 store/store.h common/err.h common/alloc.h common/file.h
store/store_int.h:
store/store.h:
common/err.h:
common/alloc.h:
common/file.h:
