package org.addernet.interop;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Writes the pickles of a {@code torch.save} of an OrderedDict of tensors, pickle protocol 2, with the opcodes and
 * globals {@code torch.load(weights_only=True)} accepts: each tensor is
 * {@code torch._utils._rebuild_tensor_v2(persistent_id('storage', torch.FloatStorage|LongStorage, '<i>', 'cpu', numel),
 * 0, size, stride, False, OrderedDict())}, storage {@code i} being the i-th tensor in map order. The zip format's
 * {@code data.pkl} is that dict alone; the legacy format (PyTorch's {@code _legacy_save}) adds a sixth field to the
 * persistent id (the view metadata, {@code None}) and frames the dict with the magic number, the protocol version
 * and the system info before it and the list of storage keys after it ({@link #legacyHeader}, {@link #storageKeys}).
 */
final class PickleWriter {
    private PickleWriter() {}

    /** The zip format's {@code data.pkl}. */
    static void stateDict(ByteArrayOutputStream out, Map<String, TorchTensor> tensors) {
        stateDict(out, tensors, false);
    }

    /** {@code legacy}: the persistent ids carry the legacy format's sixth field, {@code view_metadata = None}. */
    static void stateDict(ByteArrayOutputStream out, Map<String, TorchTensor> tensors, boolean legacy) {
        out.write(0x80); // PROTO 2
        out.write(2);
        global(out, "collections", "OrderedDict");
        out.write(')'); // EMPTY_TUPLE
        out.write('R'); // REDUCE
        out.write('('); // MARK
        int i = 0;
        for (Map.Entry<String, TorchTensor> e : tensors.entrySet()) {
            TorchTensor t = e.getValue();
            unicode(out, e.getKey());
            global(out, "torch._utils", "_rebuild_tensor_v2");
            out.write('('); // MARK: the arguments
            out.write('('); // MARK: the persistent id
            unicode(out, "storage");
            global(out, "torch", t.dtype().storageClass);
            unicode(out, Integer.toString(i++));
            unicode(out, "cpu");
            binint(out, Math.toIntExact(t.numel()));
            if (legacy) out.write('N'); // view_metadata: not a view
            out.write('t'); // TUPLE
            out.write('Q'); // BINPERSID
            binint(out, 0); // storage offset
            out.write('(');
            for (int s : t.shape()) binint(out, s);
            out.write('t');
            out.write('(');
            for (long s : TorchFiles.contiguousStrides(t.shape())) binint(out, Math.toIntExact(s));
            out.write('t');
            out.write(0x89); // NEWFALSE: requires_grad
            global(out, "collections", "OrderedDict"); // backward_hooks
            out.write(')');
            out.write('R');
            out.write('t');
            out.write('R');
        }
        out.write('u'); // SETITEMS
        out.write('.'); // STOP
    }

    /**
     * The three pickles a legacy {@code torch.save} starts with, as {@code pickle.dump} writes them at protocol 2:
     * the magic number {@code 0x1950a86a20f9469cfc6c} (LONG1, 10 bytes little-endian), the protocol version 1001,
     * and {@code sys_info = {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4,
     * 'long': 4}}} (the sizes PyTorch writes on Linux x86-64; its loader reads only the byte order).
     */
    static void legacyHeader(ByteArrayOutputStream out) {
        byte[] magic = TorchFiles.LEGACY_MAGIC.toByteArray(); // big-endian, no sign byte needed (top bit clear)
        out.write(0x80);
        out.write(2);
        out.write(0x8a); // LONG1
        out.write(magic.length);
        for (int i = magic.length - 1; i >= 0; i--) out.write(magic[i]);
        out.write('.');
        out.write(0x80);
        out.write(2);
        binint2(out, (int) TorchFiles.LEGACY_PROTOCOL);
        out.write('.');
        out.write(0x80);
        out.write(2);
        out.write('}'); // EMPTY_DICT
        out.write('(');
        unicode(out, "protocol_version");
        binint2(out, (int) TorchFiles.LEGACY_PROTOCOL);
        unicode(out, "little_endian");
        out.write(0x88); // NEWTRUE
        unicode(out, "type_sizes");
        out.write('}');
        out.write('(');
        unicode(out, "short");
        out.write('K'); // BININT1
        out.write(2);
        unicode(out, "int");
        out.write('K');
        out.write(4);
        unicode(out, "long");
        out.write('K');
        out.write(4);
        out.write('u'); // SETITEMS
        out.write('u');
        out.write('.');
    }

    /** The legacy format's last pickle: the storage keys {@code ['0', '1', ...]}, in the order their bytes follow. */
    static void storageKeys(ByteArrayOutputStream out, int count) {
        out.write(0x80);
        out.write(2);
        out.write(']'); // EMPTY_LIST
        if (count > 0) {
            out.write('(');
            for (int i = 0; i < count; i++) unicode(out, Integer.toString(i));
            out.write('e'); // APPENDS
        }
        out.write('.');
    }

    private static void binint2(ByteArrayOutputStream out, int v) {
        out.write('M');
        out.write(v);
        out.write(v >>> 8);
    }

    private static void global(ByteArrayOutputStream out, String module, String name) {
        out.write('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void unicode(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.write('X');
        int n = b.length;
        out.write(n);
        out.write(n >>> 8);
        out.write(n >>> 16);
        out.write(n >>> 24);
        out.writeBytes(b);
    }

    private static void binint(ByteArrayOutputStream out, int v) {
        out.write('J');
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }
}
