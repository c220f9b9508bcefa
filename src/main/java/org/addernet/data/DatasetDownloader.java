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
 * No checksums are verified; the readers' format checks (magic, sizes, label range) catch a wrong or
 * damaged file when it is read.
 */
public final class DatasetDownloader {
    /** Where the Debian package {@value #DEBIAN_FASHION_MNIST_PACKAGE} installs the gzip IDX files. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String DEBIAN_FASHION_MNIST_PACKAGE = "dataset-fashion-mnist";

    static final String FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
    static final String MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    static final String CIFAR_URL = "https://www.cs.toronto.edu/~kriz/";
    static final String CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz";
    static final String CIFAR100_ARCHIVE = "cifar-100-binary.tar.gz";

    private DatasetDownloader() {
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
        String n = Datasets.spec(name).name();
        if (isPresent(n, dataDir)) return dataDir;
        boolean fashion = n.equals(Datasets.FASHION_MNIST);
        if (fashion && isPresent(n, debianDir)) return debianDir;
        try {
            download(n, dataDir, baseUrl);
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
        String n = Datasets.spec(name).name();
        Files.createDirectories(dataDir);
        if (isPresent(n, dataDir)) return;
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
                fetch(client, url, dataDir.resolve(file));
            }
        } else {
            String url = urls.get(0);
            Path archive = dataDir.resolve(url.substring(url.lastIndexOf('/') + 1));
            boolean ours = !Files.isRegularFile(archive);
            if (ours) fetch(client, url, archive);
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
    private static void fetch(HttpClient client, String url, Path target) throws IOException {
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
            moveAtomically(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
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
