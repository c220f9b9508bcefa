package org.addernet.data;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Finds a dataset's files, or fetches them from the official hosts.
 *
 * <p>Lookup order ({@link #resolve}): the user's data directory if it already holds the files; for
 * Fashion-MNIST the Debian package {@value #DEBIAN_FASHION_MNIST_PACKAGE}, which installs the four
 * official gzip IDX files in {@code /usr/share/datasets/fashion-mnist}; otherwise download into the data
 * directory. Files already present are never fetched again.
 *
 * <p>Every file is written under a temporary name in its final directory and renamed when complete, so
 * an interrupted download leaves no file that looks finished. CIFAR archives are downloaded the same way,
 * extracted by {@link TarExtractor}, and deleted once extracted (an archive the user put there is kept).
 * Every downloaded file is checked against its published MD5 (torchvision's for MNIST and Fashion-MNIST, the
 * CIFAR page's for the binary archives) before it gets its final name; a mismatch deletes it and says so. Files a
 * user put in the data directory are taken as they are (the readers' format checks still apply). All hosts are
 * https (Fashion-MNIST from its GitHub repository, which holds the published files; its S3 website is http only).
 */
public final class DatasetDownloader {
    /** Where the Debian package {@value #DEBIAN_FASHION_MNIST_PACKAGE} installs the gzip IDX files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String DEBIAN_FASHION_MNIST_PACKAGE = "dataset-fashion-mnist";

    static final String FASHION_MNIST_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/";
    static final String MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    static final String CIFAR_URL = "https://www.cs.toronto.edu/~kriz/";
    static final String CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz";
    static final String CIFAR100_ARCHIVE = "cifar-100-binary.tar.gz";

    private DatasetDownloader() {
    }

    /** Published MD5 of every file we download, by file name (torchvision's datasets/mnist.py; the CIFAR page). */
    static final Map<String, String> MNIST_MD5 = Map.of(
            "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c");
    static final Map<String, String> FASHION_MNIST_MD5 = Map.of(
            "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310");
    static final Map<String, String> CIFAR_MD5 = Map.of(
            CIFAR10_ARCHIVE, "c32a1d4ab5d03f1284b67883e8d87530",
            CIFAR100_ARCHIVE, "03b5dce01913d631647c71ecec9e9cb8");

    /** The published MD5s of {@code name}'s files. */
    static Map<String, String> publishedMd5(String name) {
        return switch (Datasets.spec(name).name()) {
            case Datasets.MNIST -> MNIST_MD5;
            case Datasets.FASHION_MNIST -> FASHION_MNIST_MD5;
            default -> CIFAR_MD5;
        };
    }

    /** The official base URL of {@code name}'s files. */
    static String officialBaseUrl(String name) {
        return switch (Datasets.spec(name).name()) {
            case Datasets.MNIST -> MNIST_URL;
            case Datasets.FASHION_MNIST -> FASHION_MNIST_URL;
            default -> CIFAR_URL;
        };
    }

    /** The URLs {@link #download} fetches for {@code name} from {@code baseUrl} (null: the official host). */
    public static List<String> urls(String name, String baseUrl) {
        String base = baseUrl == null ? officialBaseUrl(name) : (baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
        List<String> urls = new ArrayList<>();
        for (String f : remoteFiles(name)) urls.add(base + f);
        return urls;
    }

    private static List<String> remoteFiles(String name) {
        return switch (Datasets.spec(name).name()) {
            case Datasets.MNIST, Datasets.FASHION_MNIST -> IdxReader.mnistFileNames().stream().map(n -> n + ".gz").toList();
            case Datasets.CIFAR10 -> List.of(CIFAR10_ARCHIVE);
            default -> List.of(CIFAR100_ARCHIVE);
        };
    }

    /** True if {@code dir} holds both splits of {@code name} (for CIFAR, possibly in the archive's sub-directory). */
    public static boolean isPresent(String name, Path dir) {
        return switch (Datasets.spec(name).name()) {
            case Datasets.MNIST, Datasets.FASHION_MNIST -> IdxReader.hasMnistFiles(dir);
            case Datasets.CIFAR10 -> CifarReader.findDir(dir, CifarReader.CIFAR10_SUBDIR, cifar10All()) != null;
            default -> CifarReader.findDir(dir, CifarReader.CIFAR100_SUBDIR, List.of("train.bin", "test.bin")) != null;
        };
    }

    private static List<String> cifar10All() {
        List<String> all = new ArrayList<>(CifarReader.cifar10Files(true));
        all.addAll(CifarReader.cifar10Files(false));
        return all;
    }

    /** {@link #resolve(String, Path, String)} with the official download host. */
    public static Path resolve(String name, Path dataDir) throws IOException {
        return resolve(name, dataDir, null);
    }

    /**
     * The directory to read {@code name} from: {@code dataDir} if it holds the files; for Fashion-MNIST the
     * Debian package's directory if installed; otherwise {@code dataDir} after downloading into it from
     * {@code baseUrl} (null: the official host). The error on failure names the directory, the URLs tried
     * and, for Fashion-MNIST, the Debian package.
     */
    public static Path resolve(String name, Path dataDir, String baseUrl) throws IOException {
        return resolve(name, dataDir, baseUrl, DEBIAN_FASHION_MNIST);
    }

    // debianDir is a parameter only so that tests can pretend the package is not installed.
    static Path resolve(String name, Path dataDir, String baseUrl, Path debianDir) throws IOException {
        return resolve(name, dataDir, baseUrl, debianDir, publishedMd5(name));
    }

    static Path resolve(String name, Path dataDir, String baseUrl, Path debianDir, Map<String, String> md5) throws IOException {
        String n = Datasets.spec(name).name();
        if (isPresent(n, dataDir)) return dataDir;
        boolean fashion = n.equals(Datasets.FASHION_MNIST);
        // Only an absent or empty data_dir falls back to the system copy: a folder holding part of the files is a
        // mistake to report, not a reason to train on other data.
        boolean empty = !Files.isDirectory(dataDir);
        if (!empty) {
            try (var files = Files.list(dataDir)) {
                empty = files.findAny().isEmpty();
            }
        }
        if (fashion && empty && isPresent(n, debianDir)) {
            System.out.println("data: " + dataDir.toAbsolutePath() + " does not hold " + n + "; reading the Debian package's copy in " + debianDir);
            return debianDir;
        }
        try {
            download(n, dataDir, baseUrl, md5);
            return dataDir;
        } catch (IOException | RuntimeException e) {
            String alt = fashion
                    ? "; not in " + debianDir + " either: install it with 'apt-get install "
                    + DEBIAN_FASHION_MNIST_PACKAGE + "'"
                    : "";
            throw new IOException("dataset " + n + ": not found in " + dataDir.toAbsolutePath() + alt
                    + "; downloading into it failed: " + e.getMessage() + "; the files are at "
                    + String.join(", ", urls(n, baseUrl)) + " (fetch them by hand into " + dataDir.toAbsolutePath()
                    + " if this machine cannot reach them)", e);
        }
    }

    /** {@link #download(String, Path, String)} from the official host. */
    public static void download(String name, Path dataDir) throws IOException {
        download(name, dataDir, null);
    }

    /**
     * Fetches whatever of {@code name}'s files {@code dataDir} lacks, from {@code baseUrl} (null: the
     * official host; otherwise a mirror with the same file names). CIFAR archives are extracted into
     * {@code dataDir} (giving {@code cifar-10-batches-bin/} or {@code cifar-100-binary/}).
     */
    public static void download(String name, Path dataDir, String baseUrl) throws IOException {
        download(name, dataDir, baseUrl, publishedMd5(name));
    }

    /** As above, checking each file against {@code md5} (by file name; tests serve other files). */
    static void download(String name, Path dataDir, String baseUrl, Map<String, String> md5) throws IOException {
        String n = Datasets.spec(name).name();
        if (isPresent(n, dataDir)) return;
        // A failed download leaves no folder behind that was not there before.
        Path created = null;
        for (Path p = dataDir.toAbsolutePath(); p != null && !Files.exists(p); p = p.getParent()) created = p;
        Files.createDirectories(dataDir);
        try {
            fetchAll(n, dataDir, baseUrl, md5);
        } catch (IOException | RuntimeException e) {
            if (created != null) deleteEmptyFolders(dataDir.toAbsolutePath(), created);
            throw e;
        }
    }

    private static void deleteEmptyFolders(Path from, Path upTo) {
        for (Path p = from; p != null && p.startsWith(upTo); p = p.getParent()) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException notEmpty) {
                return;
            }
        }
    }

    private static void fetchAll(String n, Path dataDir, String baseUrl, Map<String, String> md5) throws IOException {
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
        List<String> urls = urls(n, baseUrl);
        if (n.equals(Datasets.MNIST) || n.equals(Datasets.FASHION_MNIST)) {
            for (String url : urls) {
                String file = url.substring(url.lastIndexOf('/') + 1);
                String base = file.substring(0, file.length() - ".gz".length());
                if (Files.isRegularFile(dataDir.resolve(file)) || Files.isRegularFile(dataDir.resolve(base))) continue;
                fetch(client, url, dataDir.resolve(file), md5.get(file));
            }
        } else {
            String url = urls.get(0);
            Path archive = dataDir.resolve(url.substring(url.lastIndexOf('/') + 1));
            boolean ours = !Files.isRegularFile(archive);
            if (ours) fetch(client, url, archive, md5.get(archive.getFileName().toString()));
            TarExtractor.extract(archive, dataDir);
            if (!isPresent(n, dataDir)) {
                throw new IOException(archive + ": extracted, but " + dataDir + " still lacks the " + n
                        + " batch files; is this the binary version of the archive?");
            }
            if (ours) Files.deleteIfExists(archive);
        }
        if (!isPresent(n, dataDir)) throw new IOException(dataDir + ": download finished but files of " + n + " are missing");
    }

    // GET url into a temporary file beside target, check it looks like gzip, then rename it into place.
    private static void fetch(HttpClient client, String url, Path target, String md5) throws IOException {
        if (md5 == null) throw new IllegalStateException("no published MD5 for " + url);
        Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), "." + target.getFileName(), ".part");
        try {
            System.err.println("downloading " + url + " -> " + target);
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).GET().build();
            HttpResponse<Path> resp;
            try {
                resp = client.send(req, HttpResponse.BodyHandlers.ofFile(tmp));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while downloading " + url, e);
            } catch (IOException e) {
                throw new IOException("cannot download " + url + ": " + e, e);
            }
            if (resp.statusCode() != 200) throw new IOException("HTTP " + resp.statusCode() + " from " + url);
            // A proxy or captive portal answers 200 with an HTML page; every file we fetch is gzip.
            try (InputStream in = Files.newInputStream(tmp)) {
                byte[] head = in.readNBytes(2);
                if (head.length < 2 || (head[0] & 0xFF) != 0x1f || (head[1] & 0xFF) != 0x8b) {
                    throw new IOException(url + " did not return a gzip file (" + Files.size(tmp) + " bytes)");
                }
            }
            String got = md5Of(tmp);
            if (!got.equalsIgnoreCase(md5)) {
                throw new IOException(url + ": MD5 " + got + " differs from the published " + md5 + " (damaged or not the official file); the download was deleted");
            }
            moveAtomically(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static String md5Of(Path file) throws IOException {
        java.security.MessageDigest d;
        try {
            d = java.security.MessageDigest.getInstance("MD5");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) d.update(buf, 0, r);
        }
        return java.util.HexFormat.of().formatHex(d.digest());
    }

    /** Renames {@code tmp} to {@code target} atomically where the file system can, replacing it. */
    static void moveAtomically(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
