package org.addernet.interop;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pickle reader for PyTorch state_dicts that never runs anything from the file: it interprets the opcodes a
 * state_dict of tensors is written with (protocols 2 to 5) and knows a fixed set of globals, which it "calls" with
 * its own Java code: {@code collections.OrderedDict} (an empty map), {@code torch._utils._rebuild_tensor_v2},
 * {@code _rebuild_tensor} and {@code _rebuild_parameter} (a {@link TensorRef}), and the {@code torch.*Storage}
 * types (only named, in persistent ids). Any other global ({@code os.system}, {@code builtins.eval}, a model
 * class) or opcode ({@code INST}, {@code OBJ}, {@code NEWOBJ}, ...) is refused with an error naming it, at the
 * moment it is read, before anything could use it. Python objects become: dict/OrderedDict {@link LinkedHashMap},
 * list {@link ArrayList}, tuple {@link Tuple}, int {@code Long} (or {@link BigInteger} past 64 bits), str
 * {@code String}, bytes {@code byte[]}, None {@code null}.
 */
final class RestrictedUnpickler {
    /** A module-level name the pickle refers to (only allowed ones are ever created). */
    record Global(String module, String name) {
        @Override
        public String toString() { return module + "." + name; }
    }

    record Tuple(List<Object> items) {
        Object get(int i) { return items.get(i); }
        int size() { return items.size(); }
    }

    /** What a persistent id names: {@code numel} elements of {@code dtype} in storage {@code key}, from element {@code offset}. */
    record StorageRef(TorchTensor.DType dtype, String key, long numel, long offset) {}

    /** A tensor as {@code _rebuild_tensor_v2} describes it: a view into a storage. */
    record TensorRef(StorageRef storage, long offset, int[] size, long[] stride) {}

    /** Turns a persistent id (the tuple after {@code BINPERSID}) into a storage; the file format decides how. */
    interface PersistentLoader {
        StorageRef load(Object pid) throws IOException;
    }

    static final Set<String> STORAGE_CLASSES;
    static {
        java.util.HashSet<String> s = new java.util.HashSet<>();
        for (TorchTensor.DType d : TorchTensor.DType.values()) s.add("torch." + d.storageClass);
        STORAGE_CLASSES = Set.copyOf(s);
    }
    static final Set<String> CALLABLES = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter");

    private static final Object MARK = new Object() {
        @Override public String toString() { return "MARK"; }
    };

    private final String source;
    private final ByteBuffer in;
    private final PersistentLoader loader;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    /** Reads one pickle from {@code in} at its position (left just after the STOP); {@code source} names the file in errors. */
    RestrictedUnpickler(String source, ByteBuffer in, PersistentLoader loader) {
        this.source = source;
        this.in = in.order(ByteOrder.LITTLE_ENDIAN);
        this.loader = loader;
    }

    Object load() throws IOException {
        try {
            while (true) {
                int op = in.get() & 0xff;
                switch (op) {
                    case 0x80 -> { // PROTO
                        int p = in.get() & 0xff;
                        if (p < 2 || p > 5) throw error("pickle protocol " + p + " is not one torch.save writes");
                    }
                    case 0x95 -> in.getLong(); // FRAME: a length hint, the frame's opcodes follow inline
                    case '.' -> { // STOP
                        if (stack.size() != 1 || !marks.isEmpty()) throw error("malformed pickle (stack not one object at STOP)");
                        return stack.remove(0);
                    }
                    case '(' -> marks.add(stack.size()); // MARK
                    case '0' -> pop(); // POP
                    case '1' -> popMark(); // POP_MARK
                    case '2' -> push(peek()); // DUP
                    case 'N' -> push(null);
                    case 0x88 -> push(Boolean.TRUE);
                    case 0x89 -> push(Boolean.FALSE);
                    case 'J' -> push((long) in.getInt()); // BININT
                    case 'K' -> push((long) (in.get() & 0xff)); // BININT1
                    case 'M' -> push((long) (in.getShort() & 0xffff)); // BININT2
                    case 0x8a -> push(readLong(in.get() & 0xff)); // LONG1
                    case 0x8b -> push(readLong(length(in.getInt()))); // LONG4
                    case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT (big-endian)
                    case 'X' -> push(new String(bytes(length(in.getInt())), StandardCharsets.UTF_8)); // BINUNICODE
                    case 0x8c -> push(new String(bytes(in.get() & 0xff), StandardCharsets.UTF_8)); // SHORT_BINUNICODE
                    case 0x8d -> push(new String(bytes(length(in.getLong())), StandardCharsets.UTF_8)); // BINUNICODE8
                    case 'T' -> push(new String(bytes(length(in.getInt())), StandardCharsets.ISO_8859_1)); // BINSTRING (Python 2)
                    case 'U' -> push(new String(bytes(in.get() & 0xff), StandardCharsets.ISO_8859_1)); // SHORT_BINSTRING
                    case 'B' -> push(bytes(length(in.getInt()))); // BINBYTES
                    case 'C' -> push(bytes(in.get() & 0xff)); // SHORT_BINBYTES
                    case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                    case 'd' -> { // DICT
                        Map<Object, Object> m = new LinkedHashMap<>();
                        List<Object> items = popMark();
                        putAll(m, items);
                        push(m);
                    }
                    case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                    case 'l' -> push(new ArrayList<>(popMark())); // LIST
                    case 'a' -> { // APPEND
                        Object v = pop();
                        list(peek()).add(v);
                    }
                    case 'e' -> { // APPENDS
                        List<Object> items = popMark();
                        list(peek()).addAll(items);
                    }
                    case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                    case 't' -> push(tuple(popMark())); // TUPLE
                    case 0x85 -> push(tuple(List.of(pop()))); // TUPLE1
                    case 0x86 -> { // TUPLE2
                        Object b = pop(), a = pop();
                        push(tuple(Arrays.asList(a, b)));
                    }
                    case 0x87 -> { // TUPLE3
                        Object c = pop(), b = pop(), a = pop();
                        push(tuple(Arrays.asList(a, b, c)));
                    }
                    case 's' -> { // SETITEM
                        Object v = pop(), k = pop();
                        dict(peek()).put(k, v);
                    }
                    case 'u' -> { // SETITEMS
                        List<Object> items = popMark();
                        putAll(dict(peek()), items);
                    }
                    case 'q' -> memo.put((long) (in.get() & 0xff), peek()); // BINPUT
                    case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek()); // LONG_BINPUT
                    case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                    case 'h' -> push(memoGet(in.get() & 0xff)); // BINGET
                    case 'j' -> push(memoGet(in.getInt() & 0xffffffffL)); // LONG_BINGET
                    case 'c' -> push(global(line(), line())); // GLOBAL
                    case 0x93 -> { // STACK_GLOBAL
                        Object name = pop(), module = pop();
                        if (!(module instanceof String m) || !(name instanceof String n)) throw error("malformed STACK_GLOBAL");
                        push(global(m, n));
                    }
                    case 'Q' -> push(loader.load(pop())); // BINPERSID
                    case 'R' -> { // REDUCE
                        Object args = pop(), f = pop();
                        if (!(args instanceof Tuple t)) throw error("REDUCE without an argument tuple");
                        push(call(f, t));
                    }
                    case 'b' -> { // BUILD: state for the object below; an OrderedDict's is its _metadata, not needed
                        Object state = pop();
                        if (!(peek() instanceof LinkedHashMap) && !(peek() instanceof TensorRef)) {
                            throw error("BUILD on " + describe(peek()) + " is not part of a state_dict");
                        }
                        if (state != null && !(state instanceof Map) && !(state instanceof Tuple)) throw error("malformed BUILD state");
                    }
                    default -> throw error("pickle opcode 0x" + Integer.toHexString(op) + (op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : "")
                            + " is not one a state_dict of tensors is written with; refused (nothing from the file was run)");
                }
            }
        } catch (java.nio.BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new IOException(source + " is truncated (the pickle ends before its STOP)", e);
        }
    }

    private Object global(String module, String name) throws IOException {
        String full = module + "." + name;
        if (!CALLABLES.contains(full) && !STORAGE_CLASSES.contains(full)) {
            throw new IOException(source + ": the pickle names global '" + full + "', which a state_dict of tensors does not need;"
                    + " refused (nothing from the file was run)");
        }
        return new Global(module, name);
    }

    /** The allowed callables, done by hand. */
    private Object call(Object f, Tuple a) throws IOException {
        if (!(f instanceof Global g) || !CALLABLES.contains(g.toString())) throw error("REDUCE on " + describe(f) + " is not allowed");
        switch (g.toString()) {
            case "collections.OrderedDict" -> {
                if (a.size() != 0) throw error("OrderedDict with arguments");
                return new LinkedHashMap<>();
            }
            case "torch._utils._rebuild_parameter" -> {
                if (a.size() < 1 || !(a.get(0) instanceof TensorRef t)) throw error("_rebuild_parameter without a tensor");
                return t;
            }
            default -> { // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]), _rebuild_tensor: the first four
                if (a.size() < 4 || !(a.get(0) instanceof StorageRef s) || !(a.get(1) instanceof Long off)
                        || !(a.get(2) instanceof Tuple size) || !(a.get(3) instanceof Tuple stride) || size.size() != stride.size()) {
                    throw error("malformed " + g.name() + " arguments");
                }
                int[] sz = new int[size.size()];
                long[] st = new long[size.size()];
                for (int i = 0; i < sz.length; i++) {
                    if (!(size.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE || !(stride.get(i) instanceof Long t) || t < 0) {
                        throw error("malformed tensor size or stride " + size + " " + stride);
                    }
                    sz[i] = (int) (long) d;
                    st[i] = t;
                }
                long last = off; // the largest element index the view touches must lie inside the storage
                boolean empty = false;
                for (int i = 0; i < sz.length; i++) {
                    if (sz[i] == 0) empty = true;
                    else last += (sz[i] - 1) * st[i];
                }
                if (off < 0 || (!empty && last >= s.numel())) {
                    throw error("a tensor of size " + Arrays.toString(sz) + " reaches past its storage of " + s.numel() + " elements");
                }
                return new TensorRef(s, off, sz, st);
            }
        }
    }

    private IOException error(String what) {
        return new IOException(source + ": " + what);
    }

    private static String describe(Object o) {
        return o == null ? "None" : o instanceof Global g ? g.toString() : o.getClass().getSimpleName();
    }

    private void push(Object o) { stack.add(o); }

    private Object pop() throws IOException {
        if (stack.isEmpty() || (!marks.isEmpty() && marks.get(marks.size() - 1) == stack.size())) throw error("malformed pickle (stack underflow)");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() throws IOException {
        if (stack.isEmpty()) throw error("malformed pickle (stack underflow)");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws IOException {
        if (marks.isEmpty()) throw error("malformed pickle (no MARK)");
        int at = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(at, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private static Tuple tuple(List<Object> items) {
        return new Tuple(java.util.Collections.unmodifiableList(new ArrayList<>(items)));
    }

    private void putAll(Map<Object, Object> m, List<Object> items) throws IOException {
        if (items.size() % 2 != 0) throw error("malformed pickle (odd SETITEMS)");
        for (int i = 0; i < items.size(); i += 2) {
            Object k = items.get(i);
            if (k != null && !(k instanceof String) && !(k instanceof Long)) throw error("dict key of type " + describe(k));
            m.put(k, items.get(i + 1));
        }
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) throws IOException {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw error("APPEND to " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) throws IOException {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw error("SETITEM on " + describe(o));
    }

    private Object memoGet(long i) throws IOException {
        if (!memo.containsKey(i)) throw error("malformed pickle (memo " + i + " unset)");
        return memo.get(i);
    }

    private int length(long n) throws IOException {
        if (n < 0 || n > in.remaining()) throw new IOException(source + " is truncated (a pickle string runs past the end)");
        return (int) n;
    }

    private byte[] bytes(int n) throws IOException {
        byte[] b = new byte[length(n)];
        in.get(b);
        return b;
    }

    /** Little-endian two's complement, as LONG1/LONG4 store it. */
    private Object readLong(int n) throws IOException {
        byte[] le = bytes(n);
        if (n == 0) return 0L;
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = le[n - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String line() throws IOException {
        StringBuilder b = new StringBuilder();
        while (true) {
            byte c = in.get();
            if (c == '\n') return b.toString();
            if (b.length() > 200) throw error("malformed GLOBAL");
            b.append((char) (c & 0xff));
        }
    }
}
