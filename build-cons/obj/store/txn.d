build-cons/obj/store/txn.o: store/txn.c store/store_int.h store/store.h \
 common/err.h common/alloc.h
store/store_int.h:
store/store.h:
common/err.h:
common/alloc.h:
